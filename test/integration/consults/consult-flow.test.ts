/**
 * A consult end to end with real HTTP and socket.io clients on the real platform, the real shared
 * EMR (its demo patient, care team fac-mocchau, Consent to share) and a real FerretDB.
 */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { CITIZEN_ID_SYSTEM } from '../../../contracts/fhir';
import { runVerifyCli } from '../../../server/signing/verify-cli';
import { DEMO, startTestPlatform, type TestPlatform } from '../../support/platform';
import { connect, PNG_BYTES, request, testPatientId, upload, waitFor, type ClientSocket } from './helpers';

type Sock = Awaited<ReturnType<typeof connect>>;
let tp: TestPlatform;
const tokens: Record<'referrer' | 'specialist' | 'radiologist' | 'admin' | 'otherReferrer', string> = {
  referrer: '',
  specialist: '',
  radiologist: '',
  admin: '',
  otherReferrer: '',
};
let patientId: string;
const sockets: ClientSocket[] = [];

beforeAll(async () => {
  tp = await startTestPlatform();
  tokens.referrer = (await tp.login(DEMO.referrer)).accessToken;
  tokens.specialist = (await tp.login(DEMO.specialist)).accessToken;
  tokens.radiologist = (await tp.login(DEMO.radiologist)).accessToken;
  tokens.admin = (await tp.login(DEMO.admin)).accessToken;
  const created = await tp.api('POST', '/api/admin/users', {
    token: tokens.admin,
    body: { email: 'bacha.doctor@district.demo', displayName: 'BS. Bắc Hà', role: 'referring_doctor', facilityId: 'fac-bacha', password: 'a-long-password-1' },
  });
  expect(created.status).toBe(201);
  tokens.otherReferrer = (await tp.login('bacha.doctor@district.demo', 'a-long-password-1')).accessToken;
  patientId = await testPatientId(tp, tokens.referrer);
});
afterAll(async () => {
  for (const s of sockets) s.disconnect();
  await tp?.close();
});

async function sock(token: string): Promise<Sock> {
  const s = await connect(tp, token);
  sockets.push(s);
  return s;
}

const newConsult = (over: Record<string, unknown> = {}) => ({
  patientId,
  reason: 'Ho kéo dài 3 tuần, sốt về chiều',
  clinicalQuestion: 'Nghi lao phổi? Cần hướng xử trí.',
  urgency: 'urgent',
  requestedSpecialty: 'pulmonology',
  sharedSections: ['problems', 'medications', 'imaging'],
  imagingStudyIds: ['study-cxr-1'],
  ...over,
});

async function deniedAuditFor(consultId: string): Promise<number> {
  await tp.platform.audit.flush();
  const entries = await tp.platform.audit.list({ patientId }, 1000);
  return entries.filter((e) => e.kind === 'access-denied' && JSON.stringify(e.event).includes(`ServiceRequest/${consultId}`)).length;
}

describe('consult workflow end to end', () => {
  let consultId = '';
  let referrer: Sock;
  let specialist: Sock;
  let radiologist: Sock;

  test('the district doctor requests; the specialist sees it arrive in real time and in the queue', async () => {
    referrer = await sock(tokens.referrer);
    specialist = await sock(tokens.specialist);
    radiologist = await sock(tokens.radiologist);
    const created = await tp.api('POST', '/api/consults', { token: tokens.referrer, body: newConsult() });
    expect(created.status).toBe(201);
    consultId = created.body.id;
    expect(created.body).toMatchObject({
      status: 'requested',
      urgency: 'urgent',
      requesterId: 'usr-referrer',
      requesterFacilityId: 'fac-mocchau',
      overdue: false,
    });
    expect(Date.parse(created.body.slaDeadline) - Date.parse(created.body.stateTimes.requested)).toBe(2 * 3600 * 1000);

    const arrived = await waitFor(specialist, 'consult:requested', (e: any) => e.consultId === consultId);
    expect(arrived).toMatchObject({ urgency: 'urgent', requestedSpecialty: 'pulmonology', requesterFacilityId: 'fac-mocchau' });

    // an emergency asked later jumps ahead; AI severity orders within one urgency
    const emergency = await tp.api('POST', '/api/consults', { token: tokens.referrer, body: newConsult({ urgency: 'emergency', imagingStudyIds: [] }) });
    const urgentFlagged = await tp.api('POST', '/api/consults', { token: tokens.referrer, body: newConsult({ imagingStudyIds: ['study-cxr-flagged'] }) });
    tp.platform.events.emit('triage.completed', {
      patientId,
      studyId: 'study-cxr-flagged',
      tbFlagged: true,
      noduleFlagged: false,
      maxScore: 0.93,
      flag: { finding: 'tb', score: 0.995, threshold: 0.9865 },
    });
    await waitFor(referrer, 'triage:updated', (e: any) => e.studyId === 'study-cxr-flagged');
    const queue = await tp.api('GET', '/api/consults/queue?specialty=pulmonology', { token: tokens.specialist });
    expect(queue.status).toBe(200);
    const ids = queue.body.map((i: { id: string }) => i.id);
    expect(ids.indexOf(emergency.body.id)).toBeLessThan(ids.indexOf(urgentFlagged.body.id));
    expect(ids.indexOf(urgentFlagged.body.id)).toBeLessThan(ids.indexOf(consultId));
    expect(queue.body.find((i: any) => i.id === urgentFlagged.body.id)).toMatchObject({
      aiFlagSeverity: expect.closeTo(0.93),
      aiFlag: { finding: 'tb', score: 0.995, threshold: 0.9865 },
    });
    expect(queue.body.find((i: any) => i.id === consultId).aiFlag).toBeNull();
    expect(queue.body[0]).toMatchObject({ slaDeadline: expect.any(String), overdue: false, waitingMinutes: expect.any(Number) });
    expect((await tp.api('GET', '/api/consults/queue?specialty=cardiology', { token: tokens.specialist })).body).toEqual([]);
    expect((await tp.api('GET', '/api/consults/queue', { token: tokens.referrer })).status).toBe(403);
  });

  test('invalid transitions are 409 naming state and action; wrong people are 403; both audited', async () => {
    const wrongState = await tp.api('POST', `/api/consults/${consultId}/close`, { token: tokens.referrer });
    expect(wrongState.status).toBe(409);
    expect(wrongState.body.message).toMatch(/close.*requested/);
    const reportTooEarly = await tp.api('POST', `/api/consults/${consultId}/report`, {
      token: tokens.specialist,
      body: { findings: 'x', recommendation: 'y' },
    });
    expect(reportTooEarly.status).toBe(403); // not yet a participant: the specialist has not accepted
    const referrerAccepts = await tp.api('POST', `/api/consults/${consultId}/accept`, { token: tokens.referrer });
    expect(referrerAccepts.status).toBe(403);
    const radiologistAccepts = await tp.api('POST', `/api/consults/${consultId}/accept`, { token: tokens.radiologist });
    expect(radiologistAccepts.status).toBe(403); // radiology ≠ pulmonology
    expect(await deniedAuditFor(consultId)).toBeGreaterThanOrEqual(2);
  });

  test('the specialist accepts; the referrer is told; accepting again is 409', async () => {
    const accepted = await tp.api('POST', `/api/consults/${consultId}/accept`, { token: tokens.specialist });
    expect(accepted.status).toBe(200);
    expect(accepted.body).toMatchObject({ status: 'accepted', assignedSpecialistId: 'usr-specialist' });
    expect(accepted.body.participants.map((p: any) => [p.userId, p.role])).toEqual([
      ['usr-referrer', 'requester'],
      ['usr-specialist', 'specialist'],
    ]);
    await waitFor(referrer, 'consult:accepted', (e: any) => e.consultId === consultId && e.specialistId === 'usr-specialist');
    const again = await tp.api('POST', `/api/consults/${consultId}/accept`, { token: tokens.specialist });
    expect(again.status).toBe(409);
    expect(again.body).toMatchObject({ error: 'invalid_transition', message: expect.stringMatching(/accept.*accepted/) });
    expect((await tp.api('GET', '/api/consults', { token: tokens.specialist })).body.map((c: any) => c.id)).toContain(consultId);
  });

  test('non-participants and other facilities are refused and audited', async () => {
    const before = await deniedAuditFor(consultId);
    expect((await tp.api('GET', `/api/consults/${consultId}`, { token: tokens.radiologist })).status).toBe(403);
    expect((await tp.api('GET', `/api/consults/${consultId}`, { token: tokens.otherReferrer })).status).toBe(403);
    expect((await tp.api('GET', `/api/consults/${consultId}/messages`, { token: tokens.otherReferrer })).status).toBe(403);
    const joined = await request(radiologist, 'consult:join', { consultId });
    expect(joined).toEqual({ ok: false, error: 'forbidden', message: expect.stringMatching(/do not take part/) });
    const otherSocket = await sock(tokens.otherReferrer);
    expect((await request(otherSocket, 'consult:join', { consultId })).ok).toBe(false);
    expect(await deniedAuditFor(consultId)).toBeGreaterThanOrEqual(before + 5);
    // another facility's doctor cannot request a consult for this patient
    const crossCreate = await tp.api('POST', '/api/consults', { token: tokens.otherReferrer, body: newConsult() });
    expect(crossCreate.status).toBe(403);
  });

  test('bad socket payloads get an error ack and never crash the server', async () => {
    for (const bad of [null, 'x', { consultId: 42 }, { consultId: '' }, { consultId: 'a', extra: 1 }, { consultId: '$where' }]) {
      const r = await request(radiologist, 'consult:join', bad);
      expect(r).toEqual({ ok: false, error: 'invalid', message: expect.stringMatching(/invalid consult:join/) });
    }
    const long = await request(radiologist, 'consult:message', { consultId, text: 'x'.repeat(4001) });
    expect(long.ok).toBe(false);
    expect(radiologist.connected).toBe(true);
    expect((await tp.api('GET', '/healthz')).status).toBe(200);
    // repeated abuse disconnects the socket: one refusal past the strike budget (SOCKET_STRIKE_BUDGET, 10)
    const abuser = await sock(tokens.radiologist);
    const gone = new Promise<void>((resolve) => abuser.once('disconnect', () => resolve()));
    const rawEmit = (abuser as unknown as { emit: (...args: unknown[]) => void }).emit.bind(abuser);
    for (let i = 0; i < 11; i++) rawEmit('consult:admit', { nonsense: i }, () => undefined);
    await gone;
    expect(abuser.connected).toBe(false);
  });

  test('both join: the host is admitted, the requesting doctor enters their own consult without waiting', async () => {
    const hostJoin = await request(specialist, 'consult:join', { consultId });
    expect(hostJoin).toMatchObject({ ok: true, admitted: true, host: true, room: { hostId: 'usr-specialist' } });
    // the EMR lets the specialist read the record as a consult participant (through the ConsultDirectory)
    expect(hostJoin.summary).toMatchObject({ resourceType: 'Bundle' });
    const refJoin = await request(referrer, 'consult:join', { consultId });
    expect(refJoin).toMatchObject({ ok: true, admitted: true, host: false, room: { waiting: [] } });
    expect(refJoin.summary).toMatchObject({ resourceType: 'Bundle' });
    await waitFor(specialist, 'consult:participant-joined', (e: any) => e.participant.userId === 'usr-referrer');
    // only the host admits (the requester cannot admit anybody)
    expect((await request(referrer, 'consult:admit', { consultId, userId: 'usr-referrer' })).ok).toBe(false);
    // rejoining does not wait either
    expect(await request(referrer, 'consult:join', { consultId })).toMatchObject({ ok: true, admitted: true });
  });

  test('a socket that goes away while its join is still running is not left in the room', async () => {
    const c = (await tp.api('POST', '/api/consults', { token: tokens.referrer, body: newConsult({ imagingStudyIds: [] }) })).body;
    expect((await tp.api('POST', `/api/consults/${c.id}/accept`, { token: tokens.specialist })).status).toBe(200);
    const brief = await sock(tokens.referrer);
    brief.emit('consult:join', { consultId: c.id }, () => undefined);
    // Gone a moment later: the event is on the wire, the join's consult read is still running on the
    // server (on this machine it reliably is; a slower or faster server makes this pass either way).
    await new Promise((r) => setTimeout(r, 3));
    brief.disconnect();
    const host = await sock(tokens.specialist);
    await new Promise((r) => setTimeout(r, 1500));
    const hostJoin = await request(host, 'consult:join', { consultId: c.id });
    expect(hostJoin.room.present.map((p: { userId: string }) => p.userId)).toEqual(['usr-specialist']);
  });

  test('chat with an image attachment, over HTTP and socket; files are checked by content', async () => {
    const posted = await upload(tp, tokens.referrer, consultId, 'Phim X-quang ngực thẳng', { bytes: PNG_BYTES, name: 'cxr.png', type: 'image/png' });
    expect(posted.status).toBe(201);
    expect(posted.body.attachment).toMatchObject({ contentType: 'image/png', size: PNG_BYTES.length, filename: 'cxr.png' });
    const pushed = await waitFor(specialist, 'consult:message', (m: any) => m.id === posted.body.id);
    expect(pushed.attachment.sha256).toMatch(/^[0-9a-f]{64}$/);
    const dl = await fetch(`${tp.url}/api/consults/${consultId}/attachments/${posted.body.attachment.id}`, {
      headers: { authorization: `Bearer ${tokens.specialist}` },
    });
    expect(dl.status).toBe(200);
    expect(dl.headers.get('content-type')).toBe('image/png');
    expect(Buffer.from(await dl.arrayBuffer()).equals(PNG_BYTES)).toBe(true);
    const stranger = await fetch(`${tp.url}/api/consults/${consultId}/attachments/${posted.body.attachment.id}`, {
      headers: { authorization: `Bearer ${tokens.radiologist}` },
    });
    expect(stranger.status).toBe(403);
    const html = await upload(tp, tokens.referrer, consultId, 'not an image', {
      bytes: Buffer.from('<html><script>alert(1)</script>'),
      name: 'evil.png',
      type: 'image/png',
    });
    expect(html.status).toBe(415);

    const viaSocket = await request(specialist, 'consult:message', { consultId, text: 'Đã xem phim, thấy tổn thương thùy trên phải.' });
    expect(viaSocket).toMatchObject({ ok: true, message: { authorId: 'usr-specialist' } });
    await waitFor(referrer, 'consult:message', (m: any) => m.id === viaSocket.message.id);
    const list = await tp.api('GET', `/api/consults/${consultId}/messages`, { token: tokens.referrer });
    expect(list.body.map((m: any) => m.text)).toEqual(['Phim X-quang ngực thẳng', 'Đã xem phim, thấy tổn thương thùy trên phải.']);
  });

  test('a change to the record during the consult reaches both participants', async () => {
    tp.platform.events.emit('record.changed', {
      patientId,
      resourceType: 'Observation',
      resourceId: 'obs-spo2-1',
      change: 'created',
      byUserId: 'usr-referrer',
    });
    for (const s of [referrer, specialist]) {
      const e = await waitFor(s, 'record:updated', (x: any) => x.resourceId === 'obs-spo2-1' && x.consultId === consultId);
      expect(e).toEqual({ consultId, patientId, resourceType: 'Observation', resourceId: 'obs-spo2-1', change: 'created' });
    }
    expect(radiologist.seen.some((e) => e.event === 'record:updated')).toBe(false);
  });

  test('private notes are visible only to their author', async () => {
    expect(
      (await tp.api('POST', `/api/consults/${consultId}/notes`, { token: tokens.specialist, body: { text: 'Nhớ hỏi tiền sử tiếp xúc lao' } })).status,
    ).toBe(201);
    expect((await tp.api('GET', `/api/consults/${consultId}/notes`, { token: tokens.specialist })).body.map((n: any) => n.text)).toEqual([
      'Nhớ hỏi tiền sử tiếp xúc lao',
    ]);
    expect((await tp.api('GET', `/api/consults/${consultId}/notes`, { token: tokens.referrer })).body).toEqual([]);
  });

  let report: any;
  test('the specialist signs the report; verification passes; report-ready is pushed', async () => {
    expect((await tp.api('POST', `/api/consults/${consultId}/start`, { token: tokens.specialist })).body.status).toBe('in_progress');
    await waitFor(referrer, 'consult:started', (e: any) => e.consultId === consultId);
    const body = {
      findings: 'Thâm nhiễm thùy trên phổi phải, có hang nhỏ.',
      recommendation: 'Xét nghiệm AFB đờm x2, GeneXpert; cách ly hô hấp.',
      impression: 'Nghi lao phổi',
      diagnosisCodes: [{ code: 'A15.0', display: 'Lao phổi' }],
    };
    expect((await tp.api('POST', `/api/consults/${consultId}/report`, { token: tokens.referrer, body })).status).toBe(403);
    const written = await tp.api('POST', `/api/consults/${consultId}/report`, { token: tokens.specialist, body });
    expect(written.status).toBe(201);
    report = written.body;
    expect(report).toMatchObject({
      version: 1,
      status: 'final',
      signerId: 'usr-specialist',
      publicJwk: { kty: 'EC', crv: 'P-256', kid: report.kid, alg: 'ES256' },
    });
    expect(report.resource).toMatchObject({
      resourceType: 'DiagnosticReport',
      status: 'final',
      subject: { reference: `Patient/${patientId}` },
      basedOn: [{ reference: `ServiceRequest/${consultId}` }],
      conclusion: 'Nghi lao phổi',
    });
    expect(report.signature).toMatch(/^[A-Za-z0-9_-]+\.\.[A-Za-z0-9_-]+$/);
    await waitFor(referrer, 'consult:report-ready', (e: any) => e.consultId === consultId && e.version === 1);
    // linked to the patient's citizen id as the EMR gives it (Circular 13/2025/TT-BYT)
    expect(report.resource.subject).toMatchObject({ display: expect.any(String), identifier: { system: CITIZEN_ID_SYSTEM, value: expect.any(String) } });
    // a copy lands in the patient's record (best effort, asynchronous) and is pushed as a record change
    const reports = tp.platform.db.database.connection.collection('consultreports');
    let copied: any = null;
    for (let i = 0; i < 50 && !copied?.recordResourceId; i++) {
      copied = await reports.findOne({ consultId, version: 1 });
      if (!copied?.recordResourceId) await new Promise((r) => setTimeout(r, 100));
    }
    expect(copied.recordResourceId).toEqual(expect.any(String));
    await waitFor(specialist, 'record:updated', (e: any) => e.resourceType === 'DiagnosticReport' && e.resourceId === copied.recordResourceId);
    expect((await tp.api('GET', `/api/consults/${consultId}`, { token: tokens.referrer })).body.status).toBe('reported');
    const verified = await tp.api('GET', `/api/consults/${consultId}/report/verify`, { token: tokens.referrer });
    expect(verified.body).toMatchObject({
      valid: true,
      version: 1,
      kid: report.kid,
      signerId: 'usr-specialist',
      signerName: 'PGS.TS. Trần Thị Bình',
      legacy: false,
      checks: { signature: true, chain: true, validity: true, revocation: true },
    });
    // The hospital CA certified the specialist's key; the JWS carries the chain (x5c).
    expect(verified.body.certificate).toMatchObject({ commonName: 'PGS.TS. Trần Thị Bình', organisation: 'Bệnh viện Bạch Mai' });
    expect(JSON.parse(Buffer.from(report.signature.split('.')[0], 'base64url').toString()).x5c).toHaveLength(2);
    expect(report.provenance).toMatchObject({
      resourceType: 'Provenance',
      target: [{ reference: `DiagnosticReport/${report.resource.id}` }],
      signature: [{ sigFormat: 'application/jose', who: { reference: 'Practitioner/usr-specialist' } }],
    });
    expect(Buffer.from(report.provenance.signature[0].data, 'base64').toString()).toBe(report.signature);
    // offline, with the CLI, from what the API hands out
    const dir = mkdtempSync(path.join(os.tmpdir(), 'hoichan-report-'));
    try {
      const file = (n: string, c: string) => (writeFileSync(path.join(dir, n), c), path.join(dir, n));
      const args = [
        file('report.json', JSON.stringify(report.resource)),
        file('report.jws', report.signature),
        file('key.json', JSON.stringify(report.publicJwk)),
      ];
      expect(await runVerifyCli(args, () => undefined)).toBe(0);
      const tampered = file('tampered.json', JSON.stringify({ ...report.resource, conclusion: 'Bình thường' }));
      expect(await runVerifyCli([tampered, args[1]!, args[2]!], () => undefined)).toBe(1);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  test('a report altered in the database fails verification; an amendment is a new signed version', async () => {
    const coll = tp.platform.db.database.connection.collection('consultreports');
    const r = await coll.updateOne({ consultId, version: 1 }, { $set: { 'resource.conclusion': 'Bình thường' } });
    expect(r.modifiedCount).toBe(1);
    const tampered = await tp.api('GET', `/api/consults/${consultId}/report/verify?version=1`, { token: tokens.specialist });
    expect(tampered.body).toMatchObject({ valid: false, version: 1, problem: expect.stringMatching(/does not match/) });

    const amended = await tp.api('POST', `/api/consults/${consultId}/report`, {
      token: tokens.specialist,
      body: { findings: 'Như trên; AFB dương tính.', recommendation: 'Chuyển điều trị lao theo phác đồ.' },
    });
    expect(amended.status).toBe(201);
    expect(amended.body).toMatchObject({ version: 2, status: 'amended', resource: { status: 'amended' } });
    expect((await tp.api('GET', `/api/consults/${consultId}/report/verify`, { token: tokens.referrer })).body).toMatchObject({ valid: true, version: 2 });
    // the record's copy of version 1 is updated in place (the EMR keeps the history)
    let v1: any = null;
    let v2: any = null;
    for (let i = 0; i < 50 && !v2?.recordResourceId; i++) {
      [v1, v2] = await Promise.all([coll.findOne({ consultId, version: 1 }), coll.findOne({ consultId, version: 2 })]);
      if (!v2?.recordResourceId) await new Promise((r) => setTimeout(r, 100));
    }
    expect(v2.recordResourceId).toBe(v1.recordResourceId);
    expect((await tp.api('GET', `/api/consults/${consultId}/report/versions`, { token: tokens.referrer })).body.map((v: any) => [v.version, v.status])).toEqual(
      [
        [1, 'final'],
        [2, 'amended'],
      ],
    );
  });

  test('FHIR export: ServiceRequest + Task + DiagnosticReport', async () => {
    const bundle = await tp.api('GET', `/api/consults/${consultId}/fhir`, { token: tokens.referrer });
    expect(bundle.status).toBe(200);
    expect(bundle.body.entry.map((e: any) => e.resource.resourceType)).toEqual(['ServiceRequest', 'Task', 'DiagnosticReport', 'Provenance']);
    expect(bundle.body.entry[3].resource).toMatchObject({
      target: [{ reference: `DiagnosticReport/${bundle.body.entry[2].resource.id}` }],
      signature: [{ sigFormat: 'application/jose' }],
    });
    expect(bundle.body.entry[0].resource).toMatchObject({ id: consultId, intent: 'order', priority: 'urgent', subject: { reference: `Patient/${patientId}` } });
    expect(bundle.body.entry[1].resource).toMatchObject({
      status: 'completed',
      focus: { reference: `ServiceRequest/${consultId}` },
      owner: { reference: 'Practitioner/usr-specialist' },
    });
  });

  test('closing by either party; nothing moves after that; the audit chain holds', async () => {
    const closed = await tp.api('POST', `/api/consults/${consultId}/close`, { token: tokens.referrer });
    expect(closed.body.status).toBe('closed');
    const cancel = await tp.api('POST', `/api/consults/${consultId}/cancel`, { token: tokens.referrer });
    expect(cancel.status).toBe(409);
    expect(cancel.body.message).toMatch(/cancel.*closed/);
    expect((await request(referrer, 'consult:join', { consultId })).ok).toBe(false);
    await tp.platform.audit.flush();
    expect((await tp.platform.audit.verify()).ok).toBe(true);
    const consultEntries = (await tp.platform.audit.list({ patientId }, 1000)).filter((e) => JSON.stringify(e.event).includes(`ServiceRequest/${consultId}`));
    const descs = consultEntries.map((e) => (e.event as { outcomeDesc?: string }).outcomeDesc);
    expect(descs).toEqual(
      expect.arrayContaining([
        'consult requested',
        'consult accept: requested → accepted',
        'consult report: in_progress → reported',
        'consult close: reported → closed',
      ]),
    );
  });
});

describe('store-and-forward: no call, no socket', () => {
  test('request → accept → message with a PDF → signed report → close, all over HTTP', async () => {
    const c = (await tp.api('POST', '/api/consults', { token: tokens.referrer, body: newConsult({ urgency: 'routine', imagingStudyIds: [] }) })).body;
    expect((await tp.api('POST', `/api/consults/${c.id}/accept`, { token: tokens.specialist })).body.status).toBe('accepted');
    const pdf = await upload(tp, tokens.referrer, c.id, 'Kết quả xét nghiệm', {
      bytes: Buffer.from('%PDF-1.4\n%âãÏÓ\n1 0 obj\n<<>>\nendobj\ntrailer\n<<>>\n%%EOF\n'),
      name: 'xn.pdf',
      type: 'application/pdf',
    });
    expect(pdf.status).toBe(201);
    const rep = await tp.api('POST', `/api/consults/${c.id}/report`, {
      token: tokens.specialist,
      body: { findings: 'Không thấy bất thường.', recommendation: 'Theo dõi tại tuyến huyện.' },
    });
    expect(rep.status).toBe(201);
    expect((await tp.api('GET', `/api/consults/${c.id}`, { token: tokens.referrer })).body.status).toBe('reported');
    expect((await tp.api('GET', `/api/consults/${c.id}/report/verify`, { token: tokens.referrer })).body.valid).toBe(true);
    expect((await tp.api('POST', `/api/consults/${c.id}/close`, { token: tokens.specialist })).body.status).toBe('closed');
  });

  test('an invited radiologist takes part; only parties invite; the invitee waits for the host', async () => {
    const c = (await tp.api('POST', '/api/consults', { token: tokens.referrer, body: newConsult({ imagingStudyIds: [] }) })).body;
    await tp.api('POST', `/api/consults/${c.id}/accept`, { token: tokens.specialist });
    expect((await tp.api('GET', `/api/consults/${c.id}/messages`, { token: tokens.radiologist })).status).toBe(403);
    expect((await tp.api('POST', `/api/consults/${c.id}/participants`, { token: tokens.radiologist, body: { userId: 'usr-radiologist' } })).status).toBe(403);
    const invited = await tp.api('POST', `/api/consults/${c.id}/participants`, { token: tokens.specialist, body: { userId: 'usr-radiologist' } });
    expect(invited.status).toBe(201);
    expect(invited.body.participants.find((p: any) => p.userId === 'usr-radiologist')).toMatchObject({
      role: 'radiologist',
      admitted: false,
      facilityId: 'fac-bachmai',
    });
    expect((await tp.api('POST', `/api/consults/${c.id}/participants`, { token: tokens.specialist, body: { userId: 'usr-radiologist' } })).status).toBe(409);
    expect((await tp.api('POST', `/api/consults/${c.id}/participants`, { token: tokens.specialist, body: { userId: 'usr-admin' } })).status).toBe(400);
    expect((await tp.api('GET', `/api/consults/${c.id}/messages`, { token: tokens.radiologist })).status).toBe(200);
    const rad = await sock(tokens.radiologist);
    expect(await request(rad, 'consult:join', { consultId: c.id })).toMatchObject({ ok: true, admitted: false });
    expect((await request(rad, 'consult:message', { consultId: c.id, text: 'xin vào' })).ok).toBe(false); // not admitted yet
  });

  test('drafts, decline and cancel', async () => {
    const d = (await tp.api('POST', '/api/consults', { token: tokens.referrer, body: newConsult({ submit: false }) })).body;
    expect(d).toMatchObject({ status: 'draft', slaDeadline: null });
    expect((await tp.api('POST', `/api/consults/${d.id}/submit`, { token: tokens.referrer })).body.status).toBe('requested');
    expect((await tp.api('POST', `/api/consults/${d.id}/decline`, { token: tokens.specialist, body: { reason: 'Ngoài chuyên khoa' } })).body).toMatchObject({
      status: 'declined',
      declineReason: 'Ngoài chuyên khoa',
    });
    const e = (await tp.api('POST', '/api/consults', { token: tokens.referrer, body: newConsult() })).body;
    expect((await tp.api('POST', `/api/consults/${e.id}/cancel`, { token: tokens.specialist })).status).toBe(403);
    expect((await tp.api('POST', `/api/consults/${e.id}/cancel`, { token: tokens.referrer })).body.status).toBe('cancelled');
    expect((await tp.api('POST', `/api/consults/${e.id}/bogus`, { token: tokens.referrer })).status).toBe(404);
    expect((await tp.api('POST', '/api/consults', { token: tokens.referrer, body: { ...newConsult(), urgency: 'whenever' } })).status).toBe(400);
    expect((await tp.api('POST', '/api/consults', { token: tokens.specialist, body: newConsult() })).status).toBe(403);
  });
});

describe('SLA timers', () => {
  test('a missed acceptance deadline is announced once; an old request expires', async () => {
    const specialist = await sock(tokens.specialist);
    const c = (await tp.api('POST', '/api/consults', { token: tokens.referrer, body: newConsult({ urgency: 'emergency', imagingStudyIds: [] }) })).body;
    const coll = tp.platform.db.database.connection.collection('consultrequests');
    await coll.updateOne({ _id: c.id }, { $set: { slaDeadline: new Date(Date.now() - 60_000) } });
    const overdue = await waitFor(specialist, 'consult:overdue', (e: any) => e.consultId === c.id, 12_000);
    expect(overdue).toMatchObject({ urgency: 'emergency' });
    expect((await tp.api('GET', `/api/consults/${c.id}`, { token: tokens.referrer })).body.overdue).toBe(true);
    const queueItem = (await tp.api('GET', '/api/consults/queue', { token: tokens.specialist })).body.find((i: any) => i.id === c.id);
    expect(queueItem.overdue).toBe(true);

    await coll.updateOne({ _id: c.id }, { $set: { requestedAt: new Date(Date.now() - 8 * 24 * 3600 * 1000) } });
    await waitFor(specialist, 'consult:status', (e: any) => e.consultId === c.id && e.status === 'expired', 12_000);
    expect(specialist.seen.filter((e) => e.event === 'consult:overdue' && (e.payload as any).consultId === c.id)).toHaveLength(1);
    expect((await tp.api('POST', `/api/consults/${c.id}/accept`, { token: tokens.specialist })).status).toBe(409);
  });
});
