/**
 * The same flow against the real platform as composed in server/main.ts: the real EMR
 * (PatientRecords, R4 validation, access policy) and the EMR's demo patient (pat-demo-hoa,
 * managed by fac-mocchau, consent to share for treatment).
 */
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { DEMO, startTestPlatform, type TestPlatform } from '../../support/platform';
import { CXR, DICOM } from './harness';

const DEMO_PATIENT = 'pat-demo-hoa';

let tp: TestPlatform;
beforeAll(async () => {
  tp = await startTestPlatform();
}, 120_000);
afterAll(async () => {
  await tp?.close();
});

async function upload(token: string, file: Buffer, patientId: string) {
  const form = new FormData();
  form.append('patientId', patientId);
  form.append('file', new Blob([new Uint8Array(file)]), 'cxr.dcm');
  const res = await fetch(`${tp.url}/api/imaging/studies`, { method: 'POST', headers: { authorization: `Bearer ${token}` }, body: form });
  return { status: res.status, body: await res.json() };
}

test('referrer uploads for the demo patient → AI results in the shared record → radiologist reviews', async () => {
  const referrer = (await tp.login(DEMO.referrer)).accessToken;
  const radiologist = (await tp.login(DEMO.radiologist)).accessToken;

  const res = await upload(referrer, readFileSync(path.join(DICOM, '03_gdcm-CR-MONO1-10-chest.dcm')), DEMO_PATIENT);
  expect(res.status).toBe(201);
  expect(res.body.triage.state).toBe('done');
  expect(res.body.fhir.sync).toBe('synced');

  // The EMR holds and validates the resources; the referrer reads them through FHIR.
  const report = await tp.api('GET', `/fhir/R4/DiagnosticReport/${res.body.fhir.diagnosticReportId}`, { token: referrer });
  expect(report.status).toBe(200);
  expect(report.body).toMatchObject({ status: 'preliminary', imagingStudy: [{ reference: `ImagingStudy/${res.body.fhir.imagingStudyId}` }] });
  const obs = await tp.api('GET', `/fhir/R4/Observation/${res.body.fhir.observationIds.tb}`, { token: referrer });
  expect(obs.body).toMatchObject({ status: 'preliminary', code: { text: 'AI tuberculosis lesion score' } });

  // Corrupt file → 422 and nothing in the record.
  const broken = await upload(referrer, readFileSync(path.join(DICOM, '22_BROKEN_MR_truncated.dcm')), DEMO_PATIENT);
  expect(broken.status).toBe(422);

  // The central-hospital radiologist has no relationship with the patient yet: worklist empty, review 403.
  expect((await tp.api('GET', '/api/triage/worklist', { token: radiologist })).body.items).toEqual([]);
  expect(
    (await tp.api('POST', `/api/triage/studies/${res.body.id}/review`, { token: radiologist, body: { finding: 'tb', decision: 'rejected' } })).status,
  ).toBe(403);
  expect((await tp.api('GET', res.body.previewUrl, { token: radiologist })).status).toBe(403);

  // With access (here break-glass, in the demo a consult participation), the study shows and can be reviewed.
  const bg = await tp.api('POST', '/api/emr/break-glass', {
    token: radiologist,
    body: { patientId: DEMO_PATIENT, reason: 'Urgent read of a flagged chest X-ray for the district clinic' },
  });
  expect(bg.status).toBe(201);
  const worklist = await tp.api('GET', '/api/triage/worklist', { token: radiologist });
  expect(worklist.body.items.map((i: { studyId: string }) => i.studyId)).toEqual([res.body.id]);
  expect(worklist.body.items[0].patient).toMatchObject({ id: DEMO_PATIENT, name: expect.stringContaining('Hoa') });
  const review = await tp.api('POST', `/api/triage/studies/${res.body.id}/review`, {
    token: radiologist,
    body: { finding: 'tb', decision: 'rejected', comment: 'No lesion' },
  });
  expect(review.status).toBe(201);
  const updated = await tp.api('GET', `/fhir/R4/Observation/${res.body.fhir.observationIds.tb}`, { token: referrer });
  expect(updated.body).toMatchObject({ status: 'amended', performer: [{ reference: 'Practitioner/usr-radiologist' }] });
  const stats = await tp.api('GET', '/api/triage/stats', { token: radiologist });
  expect(stats.body.studiesReviewed).toBe(1);
});

test('a PNG upload for a patient the caller cannot access → 403', async () => {
  const specialist = (await tp.login(DEMO.specialist)).accessToken;
  const res = await upload(specialist, readFileSync(path.join(CXR, 'tbx11k_tb0020.png')), DEMO_PATIENT);
  expect(res.status).toBe(403);
});
