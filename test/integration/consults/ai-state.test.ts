/**
 * What the specialist's queue says about the AI for each consult (real platform: FerretDB,
 * onnxruntime triage, the input gate): no X-ray → none; a chest X-ray → scored, with its severity;
 * only a hip radiograph (refused by the input gate) → not scored, never "AI result pending" for a
 * result that will not come.
 */
import { readFileSync } from 'node:fs';
import path from 'node:path';
import type { ConsultQueueItem } from '../../../contracts/consult-api';
import { findDemoPatient, loginParty, requestConsult, type ConsultParty } from '../../support/consult-flow';
import { DEMO, startTestPlatform, type TestPlatform } from '../../support/platform';

const FIXTURES = path.join(__dirname, '..', '..', 'fixtures');

let tp: TestPlatform;
let referrer: ConsultParty;
let specialist: ConsultParty;
beforeAll(async () => {
  tp = await startTestPlatform();
  [referrer, specialist] = await Promise.all([loginParty(tp, DEMO.referrer), loginParty(tp, DEMO.specialist)]);
}, 120_000);
afterAll(async () => {
  await tp?.close();
});

async function upload(patientId: string, file: string, name: string): Promise<{ id: string; triage: { state: string } }> {
  const form = new FormData();
  form.append('patientId', patientId);
  form.append('file', new Blob([new Uint8Array(readFileSync(path.join(FIXTURES, file)))]), name);
  const res = await fetch(`${tp.url}/api/imaging/studies`, { method: 'POST', headers: { authorization: `Bearer ${referrer.token}` }, body: form });
  expect(res.status).toBe(201);
  return (await res.json()) as { id: string; triage: { state: string } };
}

test('the queue tells none, scored and not scored apart', async () => {
  const patientId = await findDemoPatient(tp, referrer);
  const chest = await upload(patientId, 'cxr/tbx11k_tb0021.png', 'cxr.png');
  const hip = await upload(patientId, 'dicom/12_RG2_RLE.dcm', 'hip.dcm');
  expect(chest.triage.state).toBe('done');
  expect(hip.triage.state).toBe('not_scored');

  const none = await requestConsult(tp, referrer, patientId);
  const scored = await requestConsult(tp, referrer, patientId, { imagingStudyIds: [chest.id] });
  const notScored = await requestConsult(tp, referrer, patientId, { imagingStudyIds: [hip.id] });
  expect(none.aiState).toBe('none');
  expect(scored).toMatchObject({ aiState: 'scored', aiFlagSeverity: expect.any(Number) });
  expect(notScored).toMatchObject({ aiState: 'not_scored', aiFlagSeverity: null });

  const queue = await tp.api('GET', '/api/consults/queue?specialty=pulmonology', { token: specialist.token });
  expect(queue.status).toBe(200);
  const byId = new Map((queue.body as ConsultQueueItem[]).map((c) => [c.id, c]));
  expect(byId.get(none.id)?.aiState).toBe('none');
  expect(byId.get(scored.id)?.aiState).toBe('scored');
  expect(byId.get(notScored.id)).toMatchObject({ aiState: 'not_scored', aiFlagSeverity: null, aiFlag: null });

  // The queue's badge names what the study's own triage flagged, with its score and threshold.
  const study = await tp.api('GET', `/api/imaging/studies/${chest.id}`, { token: referrer.token });
  expect(study.status).toBe(200);
  const flag = (study.body as { triage: { flag?: { finding: string; score: number; threshold?: number } } }).triage.flag ?? null;
  expect(byId.get(scored.id)?.aiFlag).toEqual(flag);
  expect(byId.get(scored.id)!.aiFlagSeverity! >= 0.5).toBe(flag !== null);
  expect(byId.get(none.id)).toMatchObject({ aiFlagSeverity: null, aiFlag: null });
});
