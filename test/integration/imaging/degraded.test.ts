/**
 * Degraded modes: no model weights (triage 'unavailable', uploads still stored and viewable) and
 * the EMR down (study kept, fhirSync 'failed', resumed by the retry).
 */
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { DEMO } from '../../support/platform';
import { CXR, DICOM, PATIENT_MOCCHAU, startImagingHarness, type ImagingHarness } from './harness';

describe('without model weights', () => {
  let h: ImagingHarness;
  let referrer: string;
  beforeAll(async () => {
    h = await startImagingHarness({ triage: () => Promise.reject(new Error('ml/weights/manifest.json not found')) });
    referrer = (await h.tp.login(DEMO.referrer)).accessToken;
  }, 120_000);
  afterAll(async () => {
    await h?.close();
  });

  test('upload is accepted and stored with triage "unavailable" and the reason; corrupt files are still refused', async () => {
    const res = await h.upload(referrer, readFileSync(path.join(CXR, 'tbx11k_tb0020.png')), { patientId: PATIENT_MOCCHAU });
    expect(res.status).toBe(201);
    expect(res.body.triage).toEqual({ state: 'unavailable', message: expect.stringMatching(/not available.*manifest\.json not found/) });
    expect(res.body.fhir.sync).toBe('synced');
    expect(h.records.writes.map((w) => w.resource.resourceType)).toEqual(['ImagingStudy']);
    expect((await h.api('GET', res.body.previewUrl, { token: referrer })).status).toBe(200);
    expect((await h.api('GET', `${res.body.id ? `/api/imaging/studies/${res.body.id}` : ''}/heatmap/tb.png`, { token: referrer })).status).toBe(404);
    const broken = await h.upload(referrer, readFileSync(path.join(DICOM, '23_BROKEN_CR_no_pixeldata.dcm')), { patientId: PATIENT_MOCCHAU });
    expect(broken.status).toBe(422);
    const radiologist = (await h.tp.login(DEMO.radiologist)).accessToken;
    const worklist = await h.api('GET', '/api/triage/worklist?status=all', { token: radiologist });
    expect(worklist.body.items).toEqual([]);
    const review = await h.api('POST', `/api/triage/studies/${res.body.id}/review`, { token: radiologist, body: { finding: 'tb', decision: 'confirmed' } });
    expect(review.status).toBe(409);
  });
});

describe('EMR unavailable', () => {
  let h: ImagingHarness;
  let referrer: string;
  beforeAll(async () => {
    h = await startImagingHarness();
    referrer = (await h.tp.login(DEMO.referrer)).accessToken;
  }, 120_000);
  afterAll(async () => {
    await h?.close();
  });

  test('the study is kept with fhirSync "failed"; a retry writes the resources', async () => {
    h.records.failWrites = true;
    const res = await h.upload(referrer, readFileSync(path.join(DICOM, '03_gdcm-CR-MONO1-10-chest.dcm')), { patientId: PATIENT_MOCCHAU });
    expect(res.status).toBe(201);
    expect(res.body.triage.state).toBe('done');
    expect(res.body.fhir).toEqual({ sync: 'failed' });
    h.records.failWrites = false;
    const { ImagingFhirSync } = await import('../../../server/imaging/fhir-sync');
    const { imagingStudyModel } = await import('../../../models/imaging-study');
    const sync = new ImagingFhirSync(imagingStudyModel(h.tp.platform.db.database.connection), h.records, h.tp.platform.logger);
    expect(await sync.retryFailed()).toBe(1);
    const after = await h.api('GET', `/api/imaging/studies/${res.body.id}`, { token: referrer });
    expect(after.body.fhir).toMatchObject({ sync: 'synced', imagingStudyId: expect.any(String), diagnosticReportId: expect.any(String) });
    expect(h.records.writes.map((w) => w.resource.resourceType)).toEqual(['ImagingStudy', 'Observation', 'Observation', 'DiagnosticReport']);
  });
});
