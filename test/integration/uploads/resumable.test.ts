/**
 * Resumable uploads (tus) against the real platform: an X-ray upload cut at 60 % by an outage
 * (the socket destroyed mid-PATCH) resumes from the server's offset and is stored and triaged with
 * the original bytes; a wrong checksum stores nothing; an upload is its creator's alone; a caller
 * without access to the patient cannot start one (audited). Consult chat attachments take the same
 * route and become a message of the consult.
 */
import { createHash } from 'node:crypto';
import { existsSync, readFileSync, statSync } from 'node:fs';
import http from 'node:http';
import path from 'node:path';
import { loginParty, requestConsult } from '../../support/consult-flow';
import { DEMO, startTestPlatform, type TestPlatform } from '../../support/platform';

const DEMO_PATIENT = 'pat-demo-hoa';
const DICOM = path.resolve(__dirname, '..', '..', 'fixtures', 'dicom');
const XRAY = readFileSync(path.join(DICOM, '03_gdcm-CR-MONO1-10-chest.dcm'));
const sha256 = (b: Uint8Array) => createHash('sha256').update(b).digest('hex');

let tp: TestPlatform;
let referrer: string;
let specialist: string;
beforeAll(async () => {
  tp = await startTestPlatform();
  referrer = (await tp.login(DEMO.referrer)).accessToken;
  specialist = (await tp.login(DEMO.specialist)).accessToken;
}, 120_000);
afterAll(async () => {
  await tp?.close();
});

const tusMetadata = (m: Record<string, string>) =>
  Object.entries(m)
    .map(([k, v]) => `${k} ${Buffer.from(v).toString('base64')}`)
    .join(',');

async function create(token: string, length: number, metadata: Record<string, string>): Promise<{ status: number; id: string; body: string }> {
  const res = await fetch(`${tp.url}/api/uploads`, {
    method: 'POST',
    headers: { authorization: `Bearer ${token}`, 'tus-resumable': '1.0.0', 'upload-length': String(length), 'upload-metadata': tusMetadata(metadata) },
  });
  const location = res.headers.get('location') ?? '';
  return { status: res.status, id: location.split('/').pop() ?? '', body: await res.text() };
}

const tus = (token: string, extra: Record<string, string> = {}) => ({ authorization: `Bearer ${token}`, 'tus-resumable': '1.0.0', ...extra });

async function head(token: string, id: string) {
  const res = await fetch(`${tp.url}/api/uploads/${id}`, { method: 'HEAD', headers: tus(token) });
  return { status: res.status, offset: Number(res.headers.get('upload-offset')), length: Number(res.headers.get('upload-length')) };
}

async function patch(token: string, id: string, offset: number, bytes: Uint8Array) {
  const res = await fetch(`${tp.url}/api/uploads/${id}`, {
    method: 'PATCH',
    headers: tus(token, { 'upload-offset': String(offset), 'content-type': 'application/offset+octet-stream' }),
    body: new Uint8Array(bytes),
  });
  return { status: res.status, offset: Number(res.headers.get('upload-offset')) };
}

async function complete(token: string, id: string) {
  return tp.api('POST', `/api/uploads/${id}/complete`, { token });
}

const partialFile = (id: string) => path.join(tp.dataDir, 'uploads', 'partial', id);

/** Sends `bytes` from `offset` on a raw socket and destroys it once the server holds `cutAt` bytes: an outage mid-PATCH. */
async function patchCutOff(token: string, id: string, bytes: Buffer, cutAt: number): Promise<void> {
  const url = new URL(`${tp.url}/api/uploads/${id}`);
  const req = http.request({
    host: url.hostname,
    port: url.port,
    path: url.pathname,
    method: 'PATCH',
    headers: tus(token, { 'upload-offset': '0', 'content-type': 'application/offset+octet-stream', 'content-length': String(bytes.length) }),
  });
  const ended = new Promise<void>((resolve) => {
    req.on('error', () => resolve());
    req.on('close', () => resolve());
  });
  req.write(bytes.subarray(0, cutAt));
  // The link goes down once the server has written what was sent: no more bytes, no FIN, a reset.
  const deadline = Date.now() + 20_000;
  while (!(existsSync(partialFile(id)) && statSync(partialFile(id)).size >= cutAt)) {
    if (Date.now() > deadline) throw new Error('the server never received the first 60 %');
    await new Promise((r) => setTimeout(r, 20));
  }
  req.destroy();
  await ended;
}

test('an X-ray cut at 60 % by an outage resumes from the server offset and is stored and triaged, bytes identical', async () => {
  const created = await create(referrer, XRAY.length, { purpose: 'imaging', patientId: DEMO_PATIENT, sha256: sha256(XRAY), filename: 'chest.dcm' });
  expect(created.status).toBe(201);
  expect(created.id).toMatch(/^[0-9a-f]{32}$/);

  const sixty = Math.floor(XRAY.length * 0.6);
  await patchCutOff(referrer, created.id, XRAY, sixty);

  // Not all there: completion is refused and says where to resume.
  const early = await complete(referrer, created.id);
  expect(early.status).toBe(409);
  expect(early.body.error).toBe('upload_incomplete');

  // Resume: ask the server where it stands, send the rest from there.
  const at = await head(referrer, created.id);
  expect(at).toEqual({ status: 200, offset: sixty, length: XRAY.length });
  const rest = await patch(referrer, created.id, at.offset, XRAY.subarray(at.offset));
  expect(rest).toEqual({ status: 204, offset: XRAY.length });

  const done = await complete(referrer, created.id);
  expect(done.status).toBe(201);
  expect(done.headers.get('location')).toBe(`/api/imaging/studies/${done.body.id}`);
  expect(done.body).toMatchObject({ patientId: DEMO_PATIENT, format: 'dicom', size: XRAY.length, sha256: sha256(XRAY) });
  expect(done.body.triage.state).toBe('done');

  // The stored original is the file that was sent, byte for byte.
  const original = await tp.api('GET', `/api/imaging/studies/${done.body.id}/original`, { token: referrer });
  expect(original.status).toBe(200);
  expect(Buffer.compare(original.body as Buffer, XRAY)).toBe(0);

  // The bytes left the upload area; asking /complete again answers the same study.
  expect(existsSync(partialFile(created.id))).toBe(false);
  const again = await complete(referrer, created.id);
  expect(again.status).toBe(201);
  expect(again.body.id).toBe(done.body.id);
  expect(await tp.platform.db.database.connection.collection('imaging_studies').countDocuments({ sha256: sha256(XRAY) })).toBe(1);
  // Uploading over tus is audited like the multipart route (the imaging service writes the entry).
  await tp.platform.audit.flush();
  const entries = await tp.platform.audit.list({ patientId: DEMO_PATIENT, agentUserId: 'usr-referrer' });
  expect(entries.some((e) => e.kind !== 'access-denied' && e.success && e.action === 'C')).toBe(true);
}, 120_000);

test('a wrong checksum is refused with 409 and nothing is stored', async () => {
  const file = readFileSync(path.join(DICOM, '20_EDGE_CR-MONO1-10-chest_nometa.dcm'));
  const studies = tp.platform.db.database.connection.collection('imaging_studies');
  const before = await studies.countDocuments();
  const created = await create(referrer, file.length, { purpose: 'imaging', patientId: DEMO_PATIENT, sha256: sha256(Buffer.from('another file')) });
  expect(created.status).toBe(201);
  expect((await patch(referrer, created.id, 0, file)).status).toBe(204);
  const res = await complete(referrer, created.id);
  expect(res.status).toBe(409);
  expect(res.body).toMatchObject({ error: 'checksum_mismatch', message: expect.stringMatching(/Nothing was stored/) });
  expect(await studies.countDocuments()).toBe(before);
  expect((await head(referrer, created.id)).status).toBe(404);
  expect(existsSync(partialFile(created.id))).toBe(false);
});

test("another user cannot see, continue, abandon or complete someone's upload", async () => {
  const created = await create(referrer, XRAY.length, { purpose: 'imaging', patientId: DEMO_PATIENT, sha256: sha256(XRAY) });
  expect(created.status).toBe(201);
  expect((await patch(referrer, created.id, 0, XRAY.subarray(0, 1000))).status).toBe(204);

  expect((await head(specialist, created.id)).status).toBe(404);
  expect((await patch(specialist, created.id, 1000, XRAY.subarray(1000))).status).toBe(404);
  const del = await fetch(`${tp.url}/api/uploads/${created.id}`, { method: 'DELETE', headers: tus(specialist) });
  expect(del.status).toBe(404);
  expect((await complete(specialist, created.id)).status).toBe(404);
  // Without a token: 401, as anywhere under /api.
  expect((await fetch(`${tp.url}/api/uploads/${created.id}`, { method: 'HEAD', headers: { 'tus-resumable': '1.0.0' } })).status).toBe(401);

  // The owner's upload is untouched, and the owner may abandon it.
  expect(await head(referrer, created.id)).toEqual({ status: 200, offset: 1000, length: XRAY.length });
  const abandoned = await fetch(`${tp.url}/api/uploads/${created.id}`, { method: 'DELETE', headers: tus(referrer) });
  expect(abandoned.status).toBe(204);
  expect((await head(referrer, created.id)).status).toBe(404);
});

test('a caller without access to the patient cannot start an upload (403 before any byte, audited)', async () => {
  const partial = path.join(tp.dataDir, 'uploads', 'partial');
  const filesBefore = (await import('node:fs')).readdirSync(partial).length;
  const res = await create(specialist, XRAY.length, { purpose: 'imaging', patientId: DEMO_PATIENT, sha256: sha256(XRAY) });
  expect(res.status).toBe(403);
  expect(JSON.parse(res.body)).toMatchObject({ error: 'forbidden', message: expect.stringMatching(/no write access/) });
  expect((await import('node:fs')).readdirSync(partial).length).toBe(filesBefore);
  await tp.platform.audit.flush();
  const denied = await tp.platform.audit.list({ patientId: DEMO_PATIENT, agentUserId: 'usr-specialist' });
  expect(denied.some((e) => e.kind === 'access-denied' && !e.success)).toBe(true);
});

test('creation refuses bad metadata, files over the limit and deferred lengths', async () => {
  const ok = { purpose: 'imaging', patientId: DEMO_PATIENT, sha256: sha256(XRAY) };
  expect((await create(referrer, XRAY.length, { ...ok, sha256: 'abc' })).status).toBe(400);
  expect((await create(referrer, XRAY.length, { ...ok, purpose: 'video' })).status).toBe(400);
  expect((await create(referrer, XRAY.length, { purpose: 'imaging', sha256: sha256(XRAY) })).status).toBe(400);
  const tooBig = await create(referrer, tp.platform.config.http.uploadMaxBytes + 1, ok);
  expect(tooBig.status).toBe(413);
  const deferred = await fetch(`${tp.url}/api/uploads`, {
    method: 'POST',
    headers: tus(referrer, { 'upload-defer-length': '1', 'upload-metadata': tusMetadata(ok) }),
  });
  expect(deferred.status).toBe(400);
});

test('a chat attachment over tus becomes a message with the file; a non-participant cannot start one', async () => {
  const party = await loginParty(tp, DEMO.referrer);
  const consult = await requestConsult(tp, party, DEMO_PATIENT);
  const png = readFileSync(path.resolve(__dirname, '..', '..', 'fixtures', 'cxr', 'tbx11k_tb0020.png'));
  const fields = { purpose: 'attachment', consultId: consult.id, text: 'Phim cũ năm ngoái', sha256: sha256(png), filename: 'old-xray.png' };

  const stranger = await create(specialist, png.length, fields);
  expect(stranger.status).toBe(403);

  const created = await create(referrer, png.length, fields);
  expect(created.status).toBe(201);
  const half = Math.floor(png.length / 2);
  expect(await patch(referrer, created.id, 0, png.subarray(0, half))).toEqual({ status: 204, offset: half });
  expect(await patch(referrer, created.id, half, png.subarray(half))).toEqual({ status: 204, offset: png.length });
  const done = await complete(referrer, created.id);
  expect(done.status).toBe(201);
  expect(done.body).toMatchObject({
    consultId: consult.id,
    text: 'Phim cũ năm ngoái',
    attachment: { filename: 'old-xray.png', contentType: 'image/png', size: png.length },
  });

  const file = await tp.api('GET', `/api/consults/${consult.id}/attachments/${done.body.attachment.id}`, { token: referrer });
  expect(file.status).toBe(200);
  expect(file.headers.get('x-checksum-sha256')).toBe(sha256(png));
});
