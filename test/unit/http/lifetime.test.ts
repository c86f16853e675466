import type { Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import express from 'express';
import { ClientClosedError, DeadlineExceededError } from '../../../server/platform/errors';
import { errorHandler } from '../../../server/http/error-handler';
import { requestLifetime } from '../../../server/http/lifetime';
import { requestContext } from '../../../server/http/request-context';
import { createLogger } from '../../../server/observability/logger';

let server: Server;
let url: string;
const reasons: unknown[] = [];
beforeAll(async () => {
  const app = express();
  app.use(requestContext, requestLifetime(200));
  // Never answers by itself: stops when its signal says so, as long work should.
  app.get('/slow', (req) => {
    req.context.signal!.addEventListener('abort', () => reasons.push(req.context.signal!.reason));
  });
  app.get('/fhir/R4/slow', () => undefined);
  // Starts answering at once, finishes after the deadline (a download on a slow link).
  app.get('/streaming', (_req, res) => {
    res.write('part one, ');
    setTimeout(() => res.end('part two'), 400);
  });
  // An upload body that takes longer than the deadline to arrive (a tus PATCH on a slow link).
  app.patch('/upload', (req, res) => {
    req.resume();
    req.on('end', () => res.status(204).end());
  });
  app.get('/fast', (_req, res) => {
    res.json({ ok: true });
  });
  app.use(errorHandler(createLogger('silent')));
  server = app.listen(0, '127.0.0.1');
  await new Promise((r) => server.once('listening', r));
  url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
});
afterAll(async () => {
  server.closeAllConnections();
  await new Promise((r) => server.close(r));
});

test('past its deadline a request is answered 503 deadline_exceeded and its signal fires', async () => {
  reasons.length = 0;
  const started = Date.now();
  const res = await fetch(`${url}/slow`);
  expect(res.status).toBe(503);
  expect(await res.json()).toEqual({ error: 'deadline_exceeded', message: expect.stringMatching(/may or may not have been saved/) });
  expect(Date.now() - started).toBeGreaterThanOrEqual(190);
  expect(reasons).toHaveLength(1);
  expect(reasons[0]).toBeInstanceOf(DeadlineExceededError);
});

test('under /fhir the deadline answer is an OperationOutcome', async () => {
  const res = await fetch(`${url}/fhir/R4/slow`);
  expect(res.status).toBe(503);
  expect(await res.json()).toMatchObject({ resourceType: 'OperationOutcome', issue: [{ code: 'transient' }] });
});

test('when the client goes away the signal fires with ClientClosedError', async () => {
  reasons.length = 0;
  const controller = new AbortController();
  const pending = fetch(`${url}/slow`, { signal: controller.signal }).catch((e: unknown) => e);
  await new Promise((r) => setTimeout(r, 50));
  controller.abort();
  await pending;
  for (let i = 0; i < 20 && reasons.length === 0; i++) await new Promise((r) => setTimeout(r, 10));
  expect(reasons).toHaveLength(1);
  expect(reasons[0]).toBeInstanceOf(ClientClosedError);
});

test('an answer already under way at the deadline is not cut off', async () => {
  const res = await fetch(`${url}/streaming`);
  expect(res.status).toBe(200);
  expect(await res.text()).toBe('part one, part two');
});

test('a fast request is untouched', async () => {
  const res = await fetch(`${url}/fast`);
  expect(res.status).toBe(200);
});

test('a tus PATCH (application/offset+octet-stream) is bounded by its size, not by the deadline', async () => {
  const body = new ReadableStream<Uint8Array>({
    async start(controller) {
      controller.enqueue(new Uint8Array(100));
      await new Promise((r) => setTimeout(r, 400));
      controller.enqueue(new Uint8Array(100));
      controller.close();
    },
  });
  const res = await fetch(`${url}/upload`, {
    method: 'PATCH',
    headers: { 'content-type': 'application/offset+octet-stream' },
    body,
    duplex: 'half',
  } as RequestInit);
  expect(res.status).toBe(204);
});
