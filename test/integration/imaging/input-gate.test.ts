/**
 * Input gate through the real upload path (platform, FerretDB, onnxruntime): a hip radiograph is
 * stored and viewable but "not scored" — by its DICOM tags, and, with the tags gone (its pixels
 * as a PNG), by the pixel check — with no finding in FHIR and nothing on the worklist. A chest
 * X-ray is scored, and its flag (if any) names the flagged finding with its threshold.
 */
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { PNG } from 'pngjs';
import type { ImagingStudyView, WorklistItem } from '../../../contracts/imaging-api';
import { decodeImage } from '../../../ml/decode';
import { DEMO } from '../../support/platform';
import { CXR, DICOM, PATIENT_MOCCHAU, startImagingHarness, type ImagingHarness } from './harness';
import { findingPriority } from '../../../contracts/triage-priority';

let h: ImagingHarness;
let referrer: string;
let radiologist: string;

beforeAll(async () => {
  h = await startImagingHarness();
  referrer = (await h.tp.login(DEMO.referrer)).accessToken;
  radiologist = (await h.tp.login(DEMO.radiologist)).accessToken;
}, 120_000);
afterAll(async () => {
  await h?.close();
});

/** The hip radiograph's pixels, halved (1070×880), as an 8-bit PNG: no DICOM tags left. */
async function hipAsPng(): Promise<Buffer> {
  const img = await decodeImage(readFileSync(path.join(DICOM, '12_RG2_RLE.dcm')));
  const width = Math.floor(img.width / 2);
  const height = Math.floor(img.height / 2);
  const data = Buffer.alloc(width * height);
  for (let y = 0; y < height; y++) for (let x = 0; x < width; x++) data[y * width + x] = Math.round(img.pixels[2 * y * img.width + 2 * x]! * 255);
  const png = new PNG({ width, height, colorType: 0, inputColorType: 0, bitDepth: 8, inputHasAlpha: false });
  png.data = data;
  return PNG.sync.write(png, { colorType: 0, inputColorType: 0, bitDepth: 8, inputHasAlpha: false });
}

function fhirFor(studyId: string): string[] {
  return [...h.records.resources.values()].filter((r) => JSON.stringify(r).includes(studyId)).map((r) => r.resourceType);
}

test('a hip radiograph is stored but not scored: by its DICOM tags, and by its pixels without tags', async () => {
  const cases: [string, Buffer, 'dicom-tags' | 'pixels'][] = [
    ['hip.dcm', readFileSync(path.join(DICOM, '12_RG2_RLE.dcm')), 'dicom-tags'],
    ['hip.png', await hipAsPng(), 'pixels'],
  ];
  for (const [name, bytes, by] of cases) {
    const res = await h.upload(referrer, bytes, { patientId: PATIENT_MOCCHAU }, name);
    expect(res.status).toBe(201);
    const study = res.body as ImagingStudyView;
    expect(study.triage).toMatchObject({ state: 'not_scored', message: expect.stringContaining('not scored: not a frontal chest X-ray'), gate: { by } });
    expect(study.triage.findings).toBeUndefined();
    expect(study.triage.lesions).toBeUndefined();
    // viewable
    const preview = await h.api('GET', `/api/imaging/studies/${study.id}/preview.png`, { token: referrer });
    expect(preview.status).toBe(200);
    expect((await h.api('GET', `/api/imaging/studies/${study.id}/heatmap/tb.png`, { token: referrer })).status).toBe(404);
    // never filed as a finding: an ImagingStudy, no Observation, no DiagnosticReport
    expect(fhirFor(study.id)).toEqual(['ImagingStudy']);
    // never on the worklist
    const wl = await h.api('GET', '/api/triage/worklist?status=all', { token: radiologist });
    expect(wl.status).toBe(200);
    expect((wl.body.items as WorklistItem[]).some((i) => i.studyId === study.id)).toBe(false);
    // a review is refused
    const review = await h.api('POST', `/api/triage/studies/${study.id}/review`, { token: radiologist, body: { finding: 'tb', decision: 'confirmed' } });
    expect(review.status).toBeGreaterThanOrEqual(400);
    expect(review.status).toBeLessThan(500);
  }
});

test('a chest X-ray is scored; the flag names the flagged finding furthest past its threshold, its score and threshold', async () => {
  const res = await h.upload(referrer, readFileSync(path.join(CXR, 'tbx11k_tb0020.png')), { patientId: PATIENT_MOCCHAU }, 'cxr.png');
  expect(res.status).toBe(201);
  const study = res.body as ImagingStudyView;
  expect(study.triage).toMatchObject({
    state: 'done',
    gate: { by: 'pixels', chestProbability: expect.any(Number), model: { version: expect.any(String), sha256: expect.stringMatching(/^[0-9a-f]{64}$/) } },
  });
  const findings = study.triage.findings ?? [];
  for (const f of findings) expect(f.flagged).toBe(f.score >= (f.threshold ?? Number.NaN));
  // Each finding on its own operating point: flagged ones furthest into their flagged range first.
  const flagged = findings.filter((f) => f.flagged).sort((a, b) => findingPriority(b) - findingPriority(a));
  expect(study.triage.maxScore).toBe(Math.max(...findings.map(findingPriority)));
  if (flagged.length) {
    expect(study.triage.flag).toEqual({ finding: flagged[0]!.finding, score: flagged[0]!.score, threshold: flagged[0]!.threshold });
    expect(study.triage.maxScore).toBeGreaterThanOrEqual(0.5);
  } else {
    expect(study.triage.flag).toBeUndefined();
    expect(study.triage.maxScore).toBeLessThan(0.5);
  }
  expect(fhirFor(study.id).filter((t) => t === 'Observation')).toHaveLength(2);
});

test('a CR chest X-ray in JPEG extended 12-bit (.51) is decoded, previewed and scored', async () => {
  const res = await h.upload(referrer, readFileSync(path.join(DICOM, '26_CR_chest_JPEG_ext12.dcm')), { patientId: PATIENT_MOCCHAU }, 'cr12.dcm');
  expect(res.status).toBe(201);
  const study = res.body as ImagingStudyView;
  expect(study).toMatchObject({ format: 'dicom', width: 440, height: 440, modality: 'CR' });
  expect(study.triage).toMatchObject({ state: 'done', gate: { by: 'dicom-tags' } });
  expect((await h.api('GET', `/api/imaging/studies/${study.id}/preview.png`, { token: referrer })).status).toBe(200);
});
