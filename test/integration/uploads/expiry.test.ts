/**
 * Abandoned uploads expire: the sweep removes uploads (finished or not) and kept /complete answers
 * older than the expiry, and leaves younger ones alone. One user holds a bounded number at once. The mechanism alone, behind a stand-in
 * authentication and one stand-in purpose.
 */
import { createHash } from 'node:crypto';
import { existsSync, mkdtempSync, readdirSync, rmSync } from 'node:fs';
import type { Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import os from 'node:os';
import path from 'node:path';
import express from 'express';
import { errorHandler } from '../../../server/http/error-handler';
import { requestContext } from '../../../server/http/request-context';
import { createLogger } from '../../../server/observability/logger';
import { createResumableUploads, type ResumableUploads } from '../../../server/uploads/resumable-uploads';

const HOUR = 3600_000;
let dataDir: string;
let uploads: ResumableUploads;
let server: Server;
let base: string;

beforeAll(async () => {
  dataDir = mkdtempSync(path.join(os.tmpdir(), 'hoichan-uploads-'));
  const logger = createLogger('silent');
  uploads = await createResumableUploads({
    dataDir,
    mountPath: '/api/uploads',
    logger,
    expiryMs: 24 * HOUR,
    sweepEveryMs: 0,
    maxOpenPerUser: 3,
    purposes: [
      {
        name: 'note',
        maxBytes: 1000,
        authorize: () => Promise.resolve(),
        complete: (_caller, _fields, file) => Promise.resolve({ status: 201, body: { size: file.bytes.length } }),
      },
    ],
  });
  const app = express();
  app.use(requestContext);
  app.use((req, _res, next) => {
    req.context.caller = { userId: 'usr-a', role: 'referring_doctor', facilityId: 'fac-a' };
    next();
  });
  app.use('/api/uploads', uploads.router);
  app.use(errorHandler(logger));
  server = app.listen(0, '127.0.0.1');
  await new Promise((r) => server.once('listening', r));
  base = `http://127.0.0.1:${(server.address() as AddressInfo).port}/api/uploads`;
});
afterAll(async () => {
  await uploads.close();
  await new Promise((r) => server.close(r));
  rmSync(dataDir, { recursive: true, force: true });
});

const tus = { 'tus-resumable': '1.0.0' };
async function start(bytes: Buffer): Promise<string> {
  const meta = `purpose ${Buffer.from('note').toString('base64')},sha256 ${Buffer.from(createHash('sha256').update(bytes).digest('hex')).toString('base64')}`;
  const res = await fetch(base, { method: 'POST', headers: { ...tus, 'upload-length': String(bytes.length), 'upload-metadata': meta } });
  expect(res.status).toBe(201);
  return (res.headers.get('location') ?? '').split('/').pop() ?? '';
}
const send = (id: string, offset: number, bytes: Buffer) =>
  fetch(`${base}/${id}`, {
    method: 'PATCH',
    headers: { ...tus, 'upload-offset': String(offset), 'content-type': 'application/offset+octet-stream' },
    body: new Uint8Array(bytes),
  });
const headStatus = async (id: string) => (await fetch(`${base}/${id}`, { method: 'HEAD', headers: tus })).status;

test('partial, finished-but-unclaimed uploads and kept answers go after the expiry, not before', async () => {
  const bytes = Buffer.from('a short note, sent in two parts');
  const partial = await start(bytes);
  expect((await send(partial, 0, bytes.subarray(0, 10))).status).toBe(204);
  const unclaimed = await start(bytes);
  expect((await send(unclaimed, 0, bytes)).status).toBe(204);
  const claimed = await start(bytes);
  expect((await send(claimed, 0, bytes)).status).toBe(204);
  const done = await fetch(`${base}/${claimed}/complete`, { method: 'POST' });
  expect(done.status).toBe(201);
  expect(await done.json()).toEqual({ size: bytes.length });

  // A day is not over yet: nothing goes.
  expect(await uploads.sweep(Date.now() + 23 * HOUR)).toBe(0);
  expect(await headStatus(partial)).toBe(200);
  expect((await fetch(`${base}/${claimed}/complete`, { method: 'POST' })).status).toBe(201);

  // After the expiry: both uploads and the kept answer are gone, and nothing is left on disk.
  expect(await uploads.sweep(Date.now() + 25 * HOUR)).toBe(3);
  expect(await headStatus(partial)).toBe(404);
  expect(await headStatus(unclaimed)).toBe(404);
  expect((await fetch(`${base}/${claimed}/complete`, { method: 'POST' })).status).toBe(404);
  expect(readdirSync(path.join(dataDir, 'uploads', 'partial'))).toEqual([]);
  expect(readdirSync(path.join(dataDir, 'uploads', 'answers'))).toEqual([]);
  expect(existsSync(path.join(dataDir, 'uploads'))).toBe(true);
});

test('one user holds a bounded number of uploads at once (429 beyond; a finished or abandoned one frees its place)', async () => {
  const bytes = Buffer.from('x');
  const ids = [await start(bytes), await start(bytes), await start(bytes)];
  const meta = `purpose ${Buffer.from('note').toString('base64')},sha256 ${Buffer.from('0'.repeat(64)).toString('base64')}`;
  const refused = await fetch(base, { method: 'POST', headers: { ...tus, 'upload-length': '1', 'upload-metadata': meta } });
  expect(refused.status).toBe(429);
  expect(((await refused.json()) as { error: string }).error).toBe('too_many_requests');
  expect((await fetch(`${base}/${ids[0]}`, { method: 'DELETE', headers: tus })).status).toBe(204);
  await start(bytes);
});
