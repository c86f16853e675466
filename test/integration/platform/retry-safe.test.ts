/**
 * Retry-safe writes: an Idempotency-Key makes a retried POST replay the first answer instead of
 * doing the work twice; SIGTERM-style shutdown answers the requests in flight before closing.
 */
import { randomUUID } from 'node:crypto';
import { DEMO_PATIENT_ID } from '../../../server/emr/demo-patient';
import { DEMO, startTestPlatform, type TestPlatform } from '../../support/platform';

let tp: TestPlatform;
let referrer: string;
beforeAll(async () => {
  tp = await startTestPlatform({ SHUTDOWN_TIMEOUT_MS: '30000' });
  referrer = (await tp.login(DEMO.referrer)).accessToken;
});
afterAll(async () => {
  await tp.close();
});

const consult = (reason = 'Ho kéo dài 3 tuần, sốt về chiều') => ({
  patientId: DEMO_PATIENT_ID,
  reason,
  clinicalQuestion: 'Nghi lao phổi? Cần hướng xử trí.',
  urgency: 'urgent',
  requestedSpecialty: 'pulmonology',
  sharedSections: ['problems'],
  imagingStudyIds: [],
});

test('a retried consult POST with the same Idempotency-Key replays the first answer; one consult is created', async () => {
  const key = randomUUID();
  const before = (await tp.api('GET', '/api/consults', { token: referrer })).body as unknown[];
  const first = await tp.api('POST', '/api/consults', { token: referrer, body: consult(), headers: { 'idempotency-key': key } });
  expect(first.status).toBe(201);
  const retry = await tp.api('POST', '/api/consults', { token: referrer, body: consult(), headers: { 'idempotency-key': key } });
  expect(retry.status).toBe(201);
  expect(retry.headers.get('idempotent-replayed')).toBe('true');
  expect(retry.body).toEqual(first.body);
  const after = (await tp.api('GET', '/api/consults', { token: referrer })).body as unknown[];
  expect(after.length).toBe(before.length + 1);
  // Without a key, the same POST is a new consult.
  const again = await tp.api('POST', '/api/consults', { token: referrer, body: consult() });
  expect(again.status).toBe(201);
  expect(again.body.id).not.toBe(first.body.id);
});

test('concurrent duplicates: exactly one runs, the others get 409 in progress or the replay', async () => {
  const key = randomUUID();
  const results = await Promise.all(
    [1, 2, 3].map(() =>
      tp.api('POST', '/api/consults', { token: referrer, body: consult('Đau ngực, khó thở khi gắng sức'), headers: { 'idempotency-key': key } }),
    ),
  );
  const created = new Set(results.filter((r) => r.status === 201).map((r) => r.body.id as string));
  expect(created.size).toBe(1);
  for (const r of results.filter((x) => x.status !== 201)) {
    expect(r.status).toBe(409);
    expect(r.body.error).toBe('idempotency_in_progress');
  }
});

test('the same key with a different body is a 422; a bad key is a 400', async () => {
  const key = randomUUID();
  expect((await tp.api('POST', '/api/consults', { token: referrer, body: consult(), headers: { 'idempotency-key': key } })).status).toBe(201);
  const other = await tp.api('POST', '/api/consults', { token: referrer, body: consult('Một lý do khác hẳn'), headers: { 'idempotency-key': key } });
  expect(other.status).toBe(422);
  expect(other.body.error).toBe('idempotency_key_reused');
  const bad = await tp.api('POST', '/api/consults', { token: referrer, body: consult(), headers: { 'idempotency-key': 'x'.repeat(300) } });
  expect(bad.status).toBe(400);
});

test('a refused request (validation 400) is replayed as refused; the key belongs to its caller only', async () => {
  const key = randomUUID();
  const bad = await tp.api('POST', '/api/consults', { token: referrer, body: { patientId: DEMO_PATIENT_ID }, headers: { 'idempotency-key': key } });
  expect(bad.status).toBe(400);
  const replay = await tp.api('POST', '/api/consults', { token: referrer, body: { patientId: DEMO_PATIENT_ID }, headers: { 'idempotency-key': key } });
  expect(replay.status).toBe(400);
  expect(replay.headers.get('idempotent-replayed')).toBe('true');
  const specialist = (await tp.login(DEMO.specialist)).accessToken;
  const otherCaller = await tp.api('POST', '/api/consults', { token: specialist, body: { patientId: DEMO_PATIENT_ID }, headers: { 'idempotency-key': key } });
  expect(otherCaller.headers.get('idempotent-replayed')).toBeNull();
});

test('shutdown answers the request in flight before it closes the database', async () => {
  const entries = Array.from({ length: 60 }, (_, i) => ({
    resource: { resourceType: 'Patient', name: [{ family: 'Trần', given: [`Drain ${i}`] }] },
    request: { method: 'POST', url: 'Patient' },
  }));
  const inFlight = tp.api('POST', '/fhir/R4', { token: referrer, body: { resourceType: 'Bundle', type: 'transaction', entry: entries } });
  await new Promise((r) => setTimeout(r, 150));
  const closing = tp.platform.close();
  const res = await inFlight;
  expect(res.status).toBe(200);
  expect(res.body.entry).toHaveLength(60);
  await closing;
  await expect(fetch(`${tp.url}/healthz`)).rejects.toThrow();
});
