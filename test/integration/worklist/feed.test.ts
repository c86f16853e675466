/**
 * The radiologist worklist fills itself: a consult accepted by a specialist of the central hospital
 * with an AI-flagged X-ray appears on the worklist of that hospital's radiologists without an
 * invitation; the reviewed view keeps the study after the last decision; the stats count every
 * decision (confirmed flags and reviewed negative calls). Real platform (real FerretDB, real EMR policy, real onnxruntime triage).
 */
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { findDemoPatient, loginParty, requestConsult, transition, type ConsultParty } from '../../support/consult-flow';
import { DEMO, startTestPlatform, type TestPlatform } from '../../support/platform';

const XRAY = path.join(__dirname, '..', '..', 'fixtures', 'cxr', 'tbx11k_tb0021.png');

let tp: TestPlatform;
let referrer: ConsultParty;
let specialist: ConsultParty;
let radiologist: ConsultParty;
beforeAll(async () => {
  tp = await startTestPlatform();
  [referrer, specialist, radiologist] = await Promise.all([loginParty(tp, DEMO.referrer), loginParty(tp, DEMO.specialist), loginParty(tp, DEMO.radiologist)]);
}, 120_000);
afterAll(async () => {
  await tp?.close();
});

async function upload(token: string, patientId: string, consultId?: string) {
  const form = new FormData();
  form.append('patientId', patientId);
  if (consultId) form.append('consultId', consultId);
  form.append('file', new Blob([new Uint8Array(readFileSync(XRAY))]), 'cxr.png');
  const res = await fetch(`${tp.url}/api/imaging/studies`, { method: 'POST', headers: { authorization: `Bearer ${token}` }, body: form });
  return { status: res.status, body: await res.json() };
}

test('flagged study of a consult accepted by my hospital → on my worklist uninvited → reviewed view → stats', async () => {
  const patientId = await findDemoPatient(tp, referrer);
  const study = await upload(referrer.token, patientId);
  expect(study.status).toBe(201);
  expect(study.body.triage.anyFlagged).toBe(true);
  const consult = await requestConsult(tp, referrer, patientId, { imagingStudyIds: [study.body.id] });

  // Requested, nobody accepted it yet: not sent to a hospital, the radiologist sees nothing.
  expect((await tp.api('GET', '/api/triage/worklist', { token: radiologist.token })).body.items).toEqual([]);

  await transition(tp, specialist, consult.id, 'accept', 'accepted');
  const list = await tp.api('GET', '/api/triage/worklist', { token: radiologist.token });
  expect(list.status).toBe(200);
  expect(list.body.items.map((i: { studyId: string }) => i.studyId)).toEqual([study.body.id]);
  expect(list.body.items[0].patient.name).toContain('Hoa');
  // Taken in as a radiologist participant of the consult, once (a second listing adds nobody).
  await tp.api('GET', '/api/triage/worklist', { token: radiologist.token });
  const view = await tp.api('GET', `/api/consults/${consult.id}`, { token: radiologist.token });
  expect(view.status).toBe(200);
  expect(view.body.participants.filter((p: { userId: string }) => p.userId === radiologist.userId)).toEqual([
    expect.objectContaining({ role: 'radiologist', admitted: false }),
  ]);
  // The images open (the EMR's consult-participant rule with the patient's Consent).
  expect((await tp.api('GET', list.body.items[0].previewUrl, { token: radiologist.token })).status).toBe(200);

  const flagged = (list.body.items[0].findings as Array<{ finding: string; flagged: boolean }>).filter((f) => f.flagged).map((f) => f.finding);
  expect(flagged.length).toBeGreaterThan(0);
  for (const finding of flagged) {
    const r = await tp.api('POST', `/api/triage/studies/${study.body.id}/review`, { token: radiologist.token, body: { finding, decision: 'confirmed' } });
    expect(r.status).toBe(201);
  }
  // Left the open list, stays in the reviewed view with the decisions.
  expect((await tp.api('GET', '/api/triage/worklist', { token: radiologist.token })).body.items).toEqual([]);
  const reviewed = await tp.api('GET', '/api/triage/worklist?status=reviewed', { token: radiologist.token });
  expect(reviewed.body.items.map((i: { studyId: string }) => i.studyId)).toEqual([study.body.id]);
  for (const finding of flagged)
    expect(reviewed.body.items[0].findings.find((f: { finding: string }) => f.finding === finding).review).toMatchObject({
      decision: 'confirmed',
      reviewerId: radiologist.userId,
    });

  // A decision on a finding the AI did not flag (its negative call) counts too: the stats card shows
  // every decision (flags reviewed + negative calls reviewed), not only confirmed flags.
  const unflagged = (list.body.items[0].findings as Array<{ finding: string; flagged: boolean }>).filter((f) => !f.flagged).map((f) => f.finding);
  for (const finding of unflagged)
    expect(
      (await tp.api('POST', `/api/triage/studies/${study.body.id}/review`, { token: radiologist.token, body: { finding, decision: 'confirmed' } })).status,
    ).toBe(201);
  const stats = await tp.api('GET', '/api/triage/stats', { token: radiologist.token });
  expect(stats.body.studiesReviewed).toBe(1);
  for (const finding of flagged)
    expect(stats.body.findings.find((f: { finding: string }) => f.finding === finding)).toMatchObject({ flagsReviewed: 1, confirmed: 1, ppv: 1 });
  for (const finding of unflagged)
    expect(stats.body.findings.find((f: { finding: string }) => f.finding === finding)).toMatchObject({ flagsReviewed: 0, negativesReviewed: 1 });

  // The join by facility is audited, once.
  const audit = await tp.api('GET', `/api/admin/audit/events?patient=${patientId}&user=${radiologist.userId}&limit=200`, {
    token: (await tp.login(DEMO.admin)).accessToken,
  });
  expect(audit.status).toBe(200);
  expect((audit.body as Array<{ outcomeDesc: string }>).filter((e) => e.outcomeDesc?.includes('taken into consult by facility'))).toHaveLength(1);
}, 120_000);
