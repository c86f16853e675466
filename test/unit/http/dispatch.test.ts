import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { HttpDispatcher } from '../../../server/http/dispatch';
import { createLogger } from '../../../server/observability/logger';

let server: Server;
let url: string;
const dispatcher = new HttpDispatcher(createLogger('silent'));
beforeAll(async () => {
  server = createServer(dispatcher.listener);
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
});
afterAll(async () => {
  await new Promise((resolve) => server.close(resolve));
});

test('before the app is set, requests get 503 with Retry-After', async () => {
  const res = await fetch(`${url}/x`);
  expect(res.status).toBe(503);
  expect(res.headers.get('retry-after')).toBe('1');
  expect(await res.json()).toEqual({ error: 'starting', message: expect.stringMatching(/starting/) });
});

test('a handler that throws answers 500 for that request only; the next request is served', async () => {
  dispatcher.setHandler((req, res) => {
    if (req.url === '/boom') throw new Error('handler bug');
    res.end('fine');
  });
  const boom = await fetch(`${url}/boom`);
  expect(boom.status).toBe(500);
  expect(await boom.json()).toEqual({ error: 'internal', message: 'Internal server error' });
  const ok = await fetch(`${url}/ok`);
  expect(ok.status).toBe(200);
  expect(await ok.text()).toBe('fine');
});
