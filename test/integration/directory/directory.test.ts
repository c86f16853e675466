/**
 * /api/directory against the real platform: a colleague found by part of their name (accents
 * ignored), only in the caller's own hospital; names for ids (patients for administrators only,
 * audited); break-glass "mark reviewed" with a note, audited, once.
 */
import { DEMO, startTestPlatform, type TestPlatform } from '../../support/platform';

let tp: TestPlatform;
beforeAll(async () => {
  tp = await startTestPlatform();
}, 120_000);
afterAll(async () => {
  await tp?.close();
});

test('colleague search by name, in my hospital only; hostile queries are 400', async () => {
  const specialist = (await tp.login(DEMO.specialist)).accessToken;
  const referrer = (await tp.login(DEMO.referrer)).accessToken;
  const found = await tp.api('GET', '/api/directory/colleagues?q=chau&role=radiologist', { token: specialist });
  expect(found.status).toBe(200);
  expect(found.body.colleagues).toEqual([
    expect.objectContaining({ id: 'usr-radiologist', displayName: 'BS. Lê Minh Châu', role: 'radiologist', facilityName: expect.any(String) }),
  ]);
  expect((await tp.api('GET', '/api/directory/colleagues?q=L%C3%8A%20MINH', { token: specialist })).body.colleagues.map((c: { id: string }) => c.id)).toEqual([
    'usr-radiologist',
  ]);
  // The district doctor does not find the central hospital's radiologist.
  expect((await tp.api('GET', '/api/directory/colleagues?q=chau', { token: referrer })).body.colleagues).toEqual([]);
  expect((await tp.api('GET', '/api/directory/colleagues?q=', { token: specialist })).status).toBe(400);
  expect((await tp.api('GET', '/api/directory/colleagues?q=a&role=root', { token: specialist })).status).toBe(400);
  expect((await tp.api('GET', '/api/directory/colleagues?q=a')).status).toBe(401);
});

test('names for ids: users for anyone, patients for administrators only (audited)', async () => {
  const specialist = (await tp.login(DEMO.specialist)).accessToken;
  const admin = (await tp.login(DEMO.admin)).accessToken;
  const users = await tp.api('GET', '/api/directory/names?users=usr-referrer,usr-nobody', { token: specialist });
  expect(users.body.users).toEqual({ 'usr-referrer': expect.objectContaining({ displayName: 'BS. Nguyễn Văn An', role: 'referring_doctor' }) });
  expect((await tp.api('GET', '/api/directory/names?patients=pat-demo-hoa', { token: specialist })).status).toBe(403);
  const patients = await tp.api('GET', '/api/directory/names?patients=pat-demo-hoa', { token: admin });
  expect(patients.status).toBe(200);
  expect(patients.body.patients['pat-demo-hoa'].name).toContain('Hoa');
  expect((await tp.api('GET', '/api/directory/names?users=%24where', { token: admin })).status).toBe(400);
});

test('break-glass access marked reviewed with a note, audited, once', async () => {
  const radiologist = (await tp.login(DEMO.radiologist)).accessToken;
  const admin = (await tp.login(DEMO.admin)).accessToken;
  const bg = await tp.api('POST', '/api/emr/break-glass', {
    token: radiologist,
    body: { patientId: 'pat-demo-hoa', reason: 'Urgent read of a flagged chest X-ray for the district clinic' },
  });
  expect(bg.status).toBe(201);
  const grants = await tp.api('GET', '/api/admin/break-glass?limit=200', { token: admin });
  const grantId = grants.body.grants[0].id as string;
  expect((await tp.api('POST', `/api/directory/break-glass-reviews/${grantId}`, { token: radiologist, body: { note: 'ok' } })).status).toBe(403);
  expect((await tp.api('POST', `/api/directory/break-glass-reviews/${grantId}`, { token: admin, body: { note: '' } })).status).toBe(400);
  const marked = await tp.api('POST', `/api/directory/break-glass-reviews/${grantId}`, {
    token: admin,
    body: { note: 'Checked with the radiology lead: justified' },
  });
  expect(marked.status).toBe(201);
  expect(marked.body).toMatchObject({
    grantId,
    patientId: 'pat-demo-hoa',
    reviewerId: 'usr-admin',
    reviewerName: 'Quản trị hệ thống',
    note: 'Checked with the radiology lead: justified',
  });
  expect((await tp.api('POST', `/api/directory/break-glass-reviews/${grantId}`, { token: admin, body: { note: 'again' } })).status).toBe(409);
  expect((await tp.api('POST', '/api/directory/break-glass-reviews/nope', { token: admin, body: { note: 'again' } })).status).toBe(404);
  const list = await tp.api('GET', '/api/directory/break-glass-reviews', { token: admin });
  expect(list.body.reviews.map((r: { grantId: string }) => r.grantId)).toEqual([grantId]);
  const audit = await tp.api('GET', '/api/admin/audit/events?breakGlass=true&limit=200', { token: admin });
  const events = await tp.api('GET', '/api/admin/audit/events?user=usr-admin&limit=200', { token: admin });
  expect(JSON.stringify([audit.body, events.body])).toContain('break-glass access reviewed by an administrator: Checked with the radiology lead');
});
