/**
 * Robust edges: unauthenticated traffic on the socket.io paths and hostile input never take the
 * process down; socket.io works over long-polling as well as WebSocket.
 */
import { io, type Socket } from 'socket.io-client';
import type { ClientToServerEvents, ServerToClientEvents } from '../../../contracts/events';
import { DEMO, startTestPlatform, type TestPlatform } from '../../support/platform';

let tp: TestPlatform;
const sockets: Socket[] = [];
beforeAll(async () => {
  tp = await startTestPlatform();
});
afterAll(async () => {
  for (const s of sockets) s.disconnect();
  await tp.close();
});

async function pollingHandshake(): Promise<string> {
  const res = await fetch(`${tp.url}/socket.io/?EIO=4&transport=polling`);
  expect(res.status).toBe(200);
  const text = await res.text();
  const open = JSON.parse(text.slice(1)) as { sid: string };
  expect(open.sid).toBeTruthy();
  return open.sid;
}

test('a socket.io polling POST is answered by engine.io alone (it used to crash the process)', async () => {
  const sid = await pollingHandshake();
  // "40" = socket.io CONNECT to the main namespace, without a token.
  const post = await fetch(`${tp.url}/socket.io/?EIO=4&transport=polling&sid=${sid}`, {
    method: 'POST',
    body: '40',
    headers: { 'content-type': 'text/plain;charset=UTF-8' },
  });
  expect(post.status).toBe(200);
  expect(await post.text()).toBe('ok');
  // The reply to the CONNECT comes on the next poll: refused, no token.
  const poll = await fetch(`${tp.url}/socket.io/?EIO=4&transport=polling&sid=${sid}`);
  expect(poll.status).toBe(200);
  expect(await poll.text()).toMatch(/^44.*unauthorized/);
  const health = await fetch(`${tp.url}/healthz`);
  expect(health.status).toBe(200);
});

test('garbage on the socket.io paths is a 4xx from engine.io, never a 404 from express or a crash', async () => {
  const sid = await pollingHandshake();
  const cases: Array<[string, RequestInit]> = [
    [`/socket.io/?EIO=4&transport=polling&sid=${sid}`, { method: 'POST', body: '\u0000\u0001garbage' }],
    ['/socket.io/?EIO=4&transport=polling&sid=unknown-sid', { method: 'POST', body: '40' }],
    ['/socket.io/?EIO=9&transport=polling', { method: 'GET' }],
    ['/socket.io/?transport=carrier-pigeon', { method: 'GET' }],
    ['/socket.io/', { method: 'PUT', body: 'x' }],
    [`/socket.io/?EIO=4&transport=polling&sid=${sid}`, { method: 'PUT', body: '40' }],
    [`/socket.io/?EIO=4&transport=polling&sid=${sid}`, { method: 'DELETE' }],
  ];
  for (const [url, init] of cases) {
    const res = await fetch(`${tp.url}${url}`, init);
    expect(res.status).toBeLessThan(500);
    await res.arrayBuffer();
  }
  expect((await fetch(`${tp.url}/healthz`)).status).toBe(200);
});

test('socket.io works over long-polling: connect, emit with ack, receive', async () => {
  const { accessToken } = await tp.login(DEMO.referrer);
  const s: Socket<ServerToClientEvents, ClientToServerEvents> = io(tp.url, {
    path: '/socket.io',
    auth: { token: accessToken },
    transports: ['polling'],
    reconnection: false,
    forceNew: true,
  });
  sockets.push(s);
  const ready = await new Promise<{ userId: string }>((resolve, reject) => {
    s.on('session:ready', resolve);
    s.on('connect_error', reject);
  });
  expect(ready.userId).toBe('usr-referrer');
  expect(s.io.engine.transport.name).toBe('polling');
  const pong = await s.timeout(5000).emitWithAck('session:ping');
  expect(pong.ok).toBe(true);
});
