import jwt from 'jsonwebtoken';
import { io, type Socket } from 'socket.io-client';
import type { ClientToServerEvents, ServerToClientEvents } from '../../../contracts/events';
import { DEMO, startTestPlatform, type TestPlatform } from '../../support/platform';

let tp: TestPlatform;
const sockets: Socket[] = [];
beforeAll(async () => {
  tp = await startTestPlatform({ LOGIN_MAX_ATTEMPTS_PER_IP: '4', LOGIN_IP_WINDOW_S: '60' });
});
afterAll(async () => {
  for (const s of sockets) s.disconnect();
  await tp.close();
});

function connect(token?: string): Socket<ServerToClientEvents, ClientToServerEvents> {
  const s: Socket<ServerToClientEvents, ClientToServerEvents> = io(tp.url, {
    path: '/socket.io',
    auth: token ? { token } : {},
    transports: ['websocket'],
    reconnection: false,
    forceNew: true,
  });
  sockets.push(s);
  return s;
}

test('a socket with a valid access token is told who it is', async () => {
  const { accessToken } = await tp.login(DEMO.referrer);
  const s = connect(accessToken);
  const info = await new Promise<{ userId: string; facilityId: string }>((resolve, reject) => {
    s.on('session:ready', resolve);
    s.on('connect_error', reject);
  });
  expect(info).toMatchObject({ userId: 'usr-referrer', facilityId: 'fac-mocchau' });
  const pong = await s.emitWithAck('session:ping');
  expect(pong.ok).toBe(true);
});

test.each([
  ['no token', undefined],
  [
    'forged',
    jwt.sign({ role: 'admin', facility: 'x' }, 'another-secret-another-secret-1234', { subject: 'usr-admin', issuer: 'hoichan', audience: 'hoichan-api' }),
  ],
  [
    'expired',
    jwt.sign({ role: 'admin', facility: 'x' }, 'test-secret-that-is-long-enough-0123456789', {
      subject: 'usr-admin',
      issuer: 'hoichan',
      audience: 'hoichan-api',
      expiresIn: -5,
    }),
  ],
])('a socket with %s is refused', async (_name, token) => {
  const s = connect(token);
  const err = await new Promise<Error>((resolve) => s.on('connect_error', resolve));
  expect(err.message).toMatch(/unauthorized/);
});

test('login attempts are limited per network address', async () => {
  const statuses: number[] = [];
  for (let i = 0; i < 6; i++) {
    statuses.push((await tp.api('POST', '/api/auth/login', { body: { email: `someone${i}@x.demo`, password: 'x' } })).status);
  }
  expect(statuses.slice(0, 3).every((s) => s === 401)).toBe(true);
  expect(statuses.at(-1)).toBe(429);
});
