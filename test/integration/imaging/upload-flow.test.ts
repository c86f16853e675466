/**
 * upload → triage → worklist → confirm/reject → stats, with the real platform, real FerretDB and
 * the real onnxruntime triage engine. PatientRecords is the in-memory stand-in (see harness.ts).
 */
import { existsSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { PNG } from 'pngjs';
import { heatmapGridOf, renderHeatmapPng, renderOverlayPng } from '../../../ml/inference/heatmap-png';
import type { ImagingStudyView, TriageStatsResponse, WorklistItem } from '../../../contracts/imaging-api';
import type { TriageProgressEvent } from '../../../contracts/imaging-events';
import { DEMO } from '../../support/platform';
import { CXR, DICOM, PATIENT_BACHA, PATIENT_MOCCHAU, startImagingHarness, type ImagingHarness } from './harness';

let h: ImagingHarness;
let referrer: string;
let radiologist: string;
let specialist: string;
let admin: string;

beforeAll(async () => {
  h = await startImagingHarness();
  referrer = (await h.tp.login(DEMO.referrer)).accessToken;
  radiologist = (await h.tp.login(DEMO.radiologist)).accessToken;
  specialist = (await h.tp.login(DEMO.specialist)).accessToken;
  admin = (await h.tp.login(DEMO.admin)).accessToken;
}, 120_000);
afterAll(async () => {
  await h?.close();
});

const studies: ImagingStudyView[] = [];

describe('upload', () => {
  test('a DICOM CR (MONOCHROME1) is stored with its checksum, triaged, written to FHIR; progress goes to the uploader', async () => {
    const socket = await h.socket(referrer);
    const progress: TriageProgressEvent[] = [];
    socket.on('triage:progress', (e) => progress.push(e));
    const completed = new Promise((resolve) => socket.once('triage:completed', resolve));
    const bytes = readFileSync(path.join(DICOM, '03_gdcm-CR-MONO1-10-chest.dcm'));

    const res = await h.upload(referrer, bytes, { patientId: PATIENT_MOCCHAU, consultId: 'consult-1' }, 'chest.dcm');
    expect(res.status).toBe(201);
    const study = res.body as ImagingStudyView;
    studies.push(study);
    expect(study).toMatchObject({
      patientId: PATIENT_MOCCHAU,
      consultId: 'consult-1',
      format: 'dicom',
      contentType: 'application/dicom',
      size: bytes.length,
      uploadedBy: 'usr-referrer',
      modality: 'CR',
      reviewStatus: 'open',
    });
    expect(study.sha256).toMatch(/^[0-9a-f]{64}$/);
    expect(res.headers.get('location')).toBe(`/api/imaging/studies/${study.id}`);
    expect(study.dicom?.studyInstanceUid).toBeTruthy();
    expect(study.triage.state).toBe('done');
    expect(study.triage.model).toMatchObject({ name: 'hoichan-cxr', sha256: expect.stringMatching(/^[0-9a-f]{64}$/) });
    expect(study.triage.findings?.map((f) => f.finding)).toEqual(['tb', 'nodule']);
    for (const l of study.triage.lesions ?? []) {
      expect(l.x_max).toBeLessThanOrEqual(study.width);
      expect(l.y_max).toBeLessThanOrEqual(study.height);
    }

    // original on disk, content-addressed, byte-identical
    const original = path.join(h.tp.dataDir, 'imaging', 'originals', study.sha256.slice(0, 2), study.sha256);
    expect(readFileSync(original).equals(bytes)).toBe(true);

    // FHIR: ImagingStudy, one Observation per finding, one DiagnosticReport, all R4-valid (checked by the stand-in)
    expect(study.fhir.sync).toBe('synced');
    const types = h.records.writes.filter((w) => w.patientId === PATIENT_MOCCHAU).map((w) => w.resource.resourceType);
    expect(types).toEqual(['ImagingStudy', 'Observation', 'Observation', 'DiagnosticReport']);
    const imagingStudy = h.records.resources.get(`ImagingStudy/${study.fhir.imagingStudyId}`)!;
    expect(imagingStudy).toMatchObject({ status: 'available', subject: { reference: `Patient/${PATIENT_MOCCHAU}` }, modality: [{ code: 'CR' }] });
    expect((imagingStudy.series as { uid: string }[])[0]?.uid).toBe(study.dicom?.seriesInstanceUid);
    const obs = h.records.resources.get(`Observation/${study.fhir.observationIds?.tb}`)!;
    expect(obs).toMatchObject({
      status: 'preliminary',
      code: { text: 'AI tuberculosis lesion score' },
      derivedFrom: [{ reference: `ImagingStudy/${study.fhir.imagingStudyId}` }],
    });
    expect(JSON.stringify(obs.device)).toContain(study.triage.model!.sha256);
    const report = h.records.resources.get(`DiagnosticReport/${study.fhir.diagnosticReportId}`)!;
    expect(report).toMatchObject({ status: 'preliminary', code: { text: 'AI chest X-ray triage' } });
    expect(report.conclusion).toMatch(/AI-generated.*radiologist/);

    await completed;
    expect(progress.filter((p) => p.studyId === study.id).map((p) => p.state)).toEqual(['queued', 'running', 'done']);
  });

  test('JPEG-compressed DICOM and a 16-bit PNG renamed .dcm (accepted as PNG, by content)', async () => {
    const jpeg = await h.upload(referrer, readFileSync(path.join(DICOM, '04_Monochrome1-Jpeg.dcm')), { patientId: PATIENT_MOCCHAU });
    expect(jpeg.status).toBe(201);
    expect(jpeg.body.triage.state).toBe('done');
    studies.push(jpeg.body);
    const png = await h.upload(referrer, readFileSync(path.join(CXR, 'synth_nih_16bit_700x640.png')), { patientId: PATIENT_MOCCHAU }, 'renamed.dcm');
    expect(png.status).toBe(201);
    expect(png.body).toMatchObject({ format: 'png', contentType: 'image/png', width: 700, height: 640 });
    studies.push(png.body);
    for (const f of ['tbx11k_tb0020.png', 'nih_nodule_00000282_000.png']) {
      const r = await h.upload(referrer, readFileSync(path.join(CXR, f)), { patientId: PATIENT_MOCCHAU }, f);
      expect(r.status).toBe(201);
      studies.push(r.body);
    }
  });

  test('a large DICOM (01_966_fixed) decodes in the workers; the event loop keeps ticking meanwhile', async () => {
    let maxGap = 0;
    let last = Date.now();
    const tick = setInterval(() => {
      const now = Date.now();
      maxGap = Math.max(maxGap, now - last);
      last = now;
    }, 10);
    const res = await h.upload(referrer, readFileSync(path.join(DICOM, '01_966_fixed.dcm')), { patientId: PATIENT_MOCCHAU });
    clearInterval(tick);
    expect(res.status).toBe(201);
    studies.push(res.body);
    expect(maxGap).toBeLessThan(1000); // decoding this file takes seconds of CPU; never on this thread
  });

  test('no access to the patient → 403, audited, nothing stored', async () => {
    const before = await h.tp.platform.db.database.connection.collection('imaging_studies').countDocuments();
    const res = await h.upload(referrer, readFileSync(path.join(CXR, 'tbx11k_tb0021.png')), { patientId: PATIENT_BACHA });
    expect(res.status).toBe(403);
    expect(res.body.message).toMatch(/no write access/);
    expect(await h.tp.platform.db.database.connection.collection('imaging_studies').countDocuments()).toBe(before);
    await h.tp.platform.audit.flush();
    const denied = await h.tp.platform.audit.list({ patientId: PATIENT_BACHA, agentUserId: 'usr-referrer' });
    // eslint-disable-next-line @typescript-eslint/no-unnecessary-boolean-literal-compare -- asserts the runtime value is exactly true
    expect(denied.some((e) => e.kind === 'access-denied' && e.success === false)).toBe(true);
  });

  test('missing fields → 400', async () => {
    const res = await h.upload(referrer, readFileSync(path.join(CXR, 'tbx11k_tb0021.png')), {});
    expect(res.status).toBe(400);
    expect(res.body.message).toMatch(/patientId/);
    const noFile = await fetch(`${h.url}/api/imaging/studies`, {
      method: 'POST',
      headers: { authorization: `Bearer ${referrer}` },
      body: (() => {
        const f = new FormData();
        f.append('patientId', PATIENT_MOCCHAU);
        return f;
      })(),
    });
    expect(noFile.status).toBe(400);
    expect(await h.api('POST', '/api/imaging/studies', {})).toMatchObject({ status: 401 });
  });
});

describe('reading', () => {
  test('a heatmap overlay is rendered from the stored grid on its first read (after the access check), then read from its file', async () => {
    const s = studies[3]!; // tbx11k_tb0020.png, 512×512
    expect(s.triage.state).toBe('done');
    const dir = path.join(h.tp.dataDir, 'imaging', 'derived', s.id);
    const tb = s.triage.findings!.find((f) => f.finding === 'tb')!;
    const [gridFile, pngFile] = [path.join(dir, 'heatmap-tb.grid'), path.join(dir, 'heatmap-tb.png')];
    expect(readFileSync(gridFile).length).toBe(128 * 128);
    expect(existsSync(pngFile)).toBe(false); // triage stored the grid only

    // Someone outside the care team is refused before anything is rendered.
    expect((await h.api('GET', tb.heatmapUrl, { token: specialist })).status).toBe(403);
    expect(existsSync(pngFile)).toBe(false);

    const [first, concurrent] = await Promise.all([h.api('GET', tb.heatmapUrl, { token: referrer }), h.api('GET', tb.heatmapUrl, { token: referrer })]);
    for (const r of [first, concurrent]) {
      expect(r.status).toBe(200);
      expect(r.headers.get('content-type')).toBe('image/png');
      expect(r.headers.get('cache-control')).toBe('private, no-store');
    }
    const body = first.body as Buffer;
    expect((concurrent.body as Buffer).equals(body)).toBe(true);
    expect(body.equals(Buffer.from(renderOverlayPng(heatmapGridOf(readFileSync(gridFile)), s.width, s.height)))).toBe(true);
    const png = PNG.sync.read(body);
    expect([png.width, png.height]).toEqual([256, 256]);
    expect(readFileSync(pngFile).equals(body)).toBe(true);

    // Later reads are the stored file: a grid that could no longer be rendered changes nothing.
    writeFileSync(gridFile, Buffer.alloc(3));
    const again = await h.api('GET', tb.heatmapUrl, { token: referrer });
    expect(again.status).toBe(200);
    expect((again.body as Buffer).equals(body)).toBe(true);
  });

  test('a study whose overlays were rendered at upload (no grid stored) is served its stored PNG as before', async () => {
    const s = studies[4]!; // nih_nodule_00000282_000.png
    const dir = path.join(h.tp.dataDir, 'imaging', 'derived', s.id);
    const nodule = s.triage.findings!.find((f) => f.finding === 'nodule')!;
    // The layout such a study has on disk: heatmap-<finding>.png, no .grid.
    const stored = renderHeatmapPng(
      Float32Array.from({ length: 16 }, (_, i) => i / 15),
      { grid: 4, size: { width: 512, height: 512 } },
    );
    rmSync(path.join(dir, 'heatmap-nodule.grid'));
    writeFileSync(path.join(dir, 'heatmap-nodule.png'), stored);
    const got = await h.api('GET', nodule.heatmapUrl, { token: referrer });
    expect(got.status).toBe(200);
    expect(got.headers.get('content-type')).toBe('image/png');
    expect((got.body as Buffer).equals(Buffer.from(stored))).toBe(true);
    // Neither file: missing from the store, as for any other image file.
    rmSync(path.join(dir, 'heatmap-nodule.png'));
    expect((await h.api('GET', nodule.heatmapUrl, { token: referrer })).status).toBe(410);

    await h.tp.platform.audit.flush();
    const reads = (await h.tp.platform.audit.list({ patientId: PATIENT_MOCCHAU, agentUserId: 'usr-referrer' }, 1000)).filter(
      // The event is stored as canonical JSON text (or, in older entries, nested): look for it in either.
      (e) =>
        e.kind === 'imaging' &&
        e.action === 'R' &&
        JSON.stringify(e).includes('image read: heatmap nodule') &&
        JSON.stringify(e).includes(`ImagingStudy/${s.id}`),
    );
    expect(reads).toHaveLength(2);
  });

  test('study, preview, heatmaps and original with their content types; each read audited', async () => {
    const s = studies[0]!;
    const got = await h.api('GET', `/api/imaging/studies/${s.id}`, { token: referrer });
    expect(got.status).toBe(200);
    expect(got.body.id).toBe(s.id);
    const preview = await h.api('GET', s.previewUrl, { token: referrer });
    expect(preview.status).toBe(200);
    expect(preview.headers.get('content-type')).toBe('image/png');
    const png = PNG.sync.read(preview.body as Buffer);
    expect(Math.max(png.width, png.height)).toBeLessThanOrEqual(1024);
    expect(png.width / png.height).toBeCloseTo(s.width / s.height, 1);
    for (const f of s.triage.findings!) {
      const hm = await h.api('GET', f.heatmapUrl, { token: referrer });
      expect(hm.status).toBe(200);
      expect(hm.headers.get('content-type')).toBe('image/png');
    }
    const original = await h.api('GET', s.originalUrl, { token: referrer });
    expect(original.status).toBe(200);
    expect(original.headers.get('content-type')).toBe('application/dicom');
    expect(original.headers.get('content-disposition')).toMatch(/attachment/);
    expect((original.body as Buffer).length).toBe(s.size);
    const pngOriginal = await h.api('GET', studies[2]!.originalUrl, { token: referrer });
    expect(pngOriginal.headers.get('content-type')).toBe('image/png');

    const list = await h.api('GET', `/api/imaging/studies?patientId=${PATIENT_MOCCHAU}`, { token: referrer });
    expect(list.status).toBe(200);
    expect(list.body.studies.length).toBe(studies.length);

    await h.tp.platform.audit.flush();
    const trail = await h.tp.platform.audit.list({ patientId: PATIENT_MOCCHAU, agentUserId: 'usr-referrer' }, 1000);
    const imagingReads = trail.filter((e) => e.kind === 'imaging' && e.action === 'R');
    expect(imagingReads.length).toBeGreaterThanOrEqual(6);
    expect(trail.filter((e) => e.kind === 'imaging' && e.action === 'C').length).toBe(studies.length);
  });

  test('someone outside the care team gets 403 on every read (audited); unknown study 404', async () => {
    // The specialist at Bạch Mai is neither in the care team nor (here) a consult participant.
    const s = studies[0]!;
    for (const url of [
      `/api/imaging/studies/${s.id}`,
      s.previewUrl,
      s.originalUrl,
      s.triage.findings![0]!.heatmapUrl,
      `/api/imaging/studies?patientId=${PATIENT_MOCCHAU}`,
    ]) {
      expect((await h.api('GET', url, { token: specialist })).status).toBe(403);
    }
    expect((await h.api('GET', `/api/imaging/studies/${s.id}`, { token: admin })).status).toBe(403);
    expect((await h.api('GET', '/api/imaging/studies/00000000-0000-0000-0000-000000000000', { token: referrer })).status).toBe(404);
    expect((await h.api('GET', `/api/imaging/studies/${s.id}/heatmap/pneumonia.png`, { token: referrer })).status).toBe(400);
    await h.tp.platform.audit.flush();
    const denied = await h.tp.platform.audit.list({ agentUserId: 'usr-specialist' });
    expect(denied.filter((e) => e.kind === 'access-denied').length).toBeGreaterThanOrEqual(5);
  });
});

describe('radiologist worklist', () => {
  let items: WorklistItem[];

  test('only radiologists: others get 403', async () => {
    for (const token of [referrer, specialist, admin]) {
      expect((await h.api('GET', '/api/triage/worklist', { token })).status).toBe(403);
      expect((await h.api('GET', '/api/triage/stats', { token })).status).toBe(403);
      expect((await h.api('POST', `/api/triage/studies/${studies[0]!.id}/review`, { token, body: { finding: 'tb', decision: 'confirmed' } })).status).toBe(403);
    }
  });

  test('ordered by flag, then score, then waiting time; minimum-necessary patient header', async () => {
    const res = await h.api('GET', '/api/triage/worklist', { token: radiologist });
    expect(res.status).toBe(200);
    items = res.body.items;
    expect(items.map((i) => i.studyId).sort()).toEqual(studies.map((s) => s.id).sort());
    for (let i = 1; i < items.length; i++) {
      const a = items[i - 1]!;
      const b = items[i]!;
      const key = (x: WorklistItem) => [x.anyFlagged ? 1 : 0, x.maxScore, -Date.parse(x.uploadedAt)];
      const [af, as, at] = key(a);
      const [bf, bs, bt] = key(b);
      expect(af! > bf! || (af === bf && (as! > bs! || (as === bs && at! >= bt!)))).toBe(true);
    }
    expect(items[0]!.patient).toEqual({ id: PATIENT_MOCCHAU, name: 'Nguyễn Thị Hoa', birthDate: '1961-04-02', gender: 'female' });
    expect(JSON.stringify(items)).not.toContain('citizen');
    expect(items[0]!.previewUrl).toMatch(/preview\.png$/);
  });

  test('a radiologist sees no study of a patient they cannot access', async () => {
    h.records.grantConsult('usr-referrer', PATIENT_BACHA);
    const other = await h.upload(referrer, readFileSync(path.join(CXR, 'tbx11k_tb0021.png')), { patientId: PATIENT_BACHA });
    expect(other.status).toBe(201);
    const res = await h.api('GET', '/api/triage/worklist?status=all', { token: radiologist });
    expect(res.body.items.some((i: WorklistItem) => i.studyId === other.body.id)).toBe(false);
    const review = await h.api('POST', `/api/triage/studies/${other.body.id}/review`, { token: radiologist, body: { finding: 'tb', decision: 'confirmed' } });
    expect(review.status).toBe(403);
  });

  test('confirm, reject, add a missed lesion; history append-only; stats', async () => {
    const socket = await h.socket(radiologist);
    const updates: string[] = [];
    socket.on('worklist:updated', (e) => updates.push(e.studyId));
    const reviewed: string[] = [];
    h.tp.platform.events.on('triage.reviewed', (e) => void reviewed.push(e.studyId));

    const a = studies[0]!;
    const b = studies[1]!;
    const bad = await h.api('POST', `/api/triage/studies/${a.id}/review`, {
      token: radiologist,
      body: { finding: 'tb', decision: 'confirmed', boxes: [{ x_min: 0, y_min: 0, x_max: a.width + 10, y_max: 10 }] },
    });
    expect(bad.status).toBe(422);
    expect(bad.body.message).toMatch(/outside the image/);
    const inverted = await h.api('POST', `/api/triage/studies/${a.id}/review`, {
      token: radiologist,
      body: { finding: 'tb', decision: 'confirmed', boxes: [{ x_min: 50, y_min: 0, x_max: 10, y_max: 10 }] },
    });
    expect(inverted.status).toBe(400);
    expect((await h.api('POST', `/api/triage/studies/${a.id}/review`, { token: radiologist, body: { finding: 'flu', decision: 'confirmed' } })).status).toBe(
      400,
    );

    // Study a: the radiologist disagrees with the model's tb call and draws a box far from any model box.
    const tbA = a.triage.findings!.find((f) => f.finding === 'tb')!;
    const missedBox = { x_min: 1, y_min: 1, x_max: 5, y_max: 5 };
    const first = await h.api('POST', `/api/triage/studies/${a.id}/review`, {
      token: radiologist,
      body: { finding: 'tb', decision: tbA.flagged ? 'confirmed' : 'rejected', boxes: [missedBox], comment: 'Thâm nhiễm đỉnh phổi phải' },
    });
    expect(first.status).toBe(201);
    expect(first.body.review).toMatchObject({ finding: 'tb', reviewerId: 'usr-radiologist', boxes: [missedBox], comment: 'Thâm nhiễm đỉnh phổi phải' });
    // A second opinion supersedes the first in the summary; both stay in the history.
    const second = await h.api('POST', `/api/triage/studies/${a.id}/review`, {
      token: radiologist,
      body: { finding: 'tb', decision: tbA.flagged ? 'confirmed' : 'rejected', boxes: [missedBox] },
    });
    expect(second.status).toBe(201);
    const nodA = a.triage.findings!.find((f) => f.finding === 'nodule')!;
    const third = await h.api('POST', `/api/triage/studies/${a.id}/review`, { token: radiologist, body: { finding: 'nodule', decision: 'rejected' } });
    expect(third.status).toBe(201);
    expect(third.body.study.reviewStatus).toBe('reviewed');
    expect(third.body.study.triage.findings.map((f: { review?: { decision: string } }) => f.review?.decision)).toEqual([
      tbA.flagged ? 'confirmed' : 'rejected',
      'rejected',
    ]);
    // Study b: confirm both calls.
    for (const f of b.triage.findings!) {
      expect(
        (await h.api('POST', `/api/triage/studies/${b.id}/review`, { token: radiologist, body: { finding: f.finding, decision: 'confirmed' } })).status,
      ).toBe(201);
    }
    const history = await h.tp.platform.db.database.connection.collection('triage_reviews').find({ studyId: a.id }).toArray();
    expect(history).toHaveLength(3);

    // FHIR Observation updated with the radiologist as performer.
    const obs = h.records.resources.get(`Observation/${a.fhir.observationIds!.tb}`)!;
    expect(obs.status).toBe(tbA.flagged ? 'final' : 'amended');
    expect(obs.performer).toEqual([{ reference: 'Practitioner/usr-radiologist' }]);

    // Open worklist no longer lists the reviewed studies; 'all' does.
    const open = (await h.api('GET', '/api/triage/worklist', { token: radiologist })).body.items as WorklistItem[];
    expect(open.some((i) => i.studyId === a.id || i.studyId === b.id)).toBe(false);
    const all = (await h.api('GET', '/api/triage/worklist?status=all', { token: radiologist })).body.items as WorklistItem[];
    expect(all.find((i) => i.studyId === a.id)?.reviewStatus).toBe('reviewed');

    const stats = (await h.api('GET', '/api/triage/stats', { token: radiologist })).body as TriageStatsResponse;
    expect(stats.studiesReviewed).toBe(2);
    const tb = stats.findings.find((f) => f.finding === 'tb')!;
    const nodule = stats.findings.find((f) => f.finding === 'nodule')!;
    const tbB = b.triage.findings!.find((f) => f.finding === 'tb')!;
    const nodB = b.triage.findings!.find((f) => f.finding === 'nodule')!;
    const flaggedTb = [tbA.flagged, tbB.flagged].filter(Boolean).length;
    expect(tb.flagsReviewed).toBe(flaggedTb);
    expect(tb.confirmed).toBe(flaggedTb);
    expect(tb.ppv).toBe(flaggedTb ? 1 : null);
    expect(tb.missedFindings).toBe(tbA.flagged ? 0 : 1);
    expect(tb.missedLesions).toBe(1);
    expect(nodule.flagsReviewed).toBe([nodA.flagged, nodB.flagged].filter(Boolean).length);
    expect(nodule.rejected).toBe(nodA.flagged ? 1 : 0);

    await new Promise((r) => setTimeout(r, 200));
    expect(updates).toContain(a.id);
    expect(reviewed).toContain(a.id);
    await h.tp.platform.audit.flush();
    const trail = await h.tp.platform.audit.list({ agentUserId: 'usr-radiologist', patientId: PATIENT_MOCCHAU }, 1000);
    expect(trail.filter((e) => e.kind === 'imaging' && e.action === 'U')).toHaveLength(5);
    expect(trail.some((e) => e.kind === 'imaging' && e.action === 'R')).toBe(true);
  });

  test('files stay inside the imaging folder: derived files for each study', async () => {
    for (const s of studies) expect(existsSync(path.join(h.tp.dataDir, 'imaging', 'derived', s.id, 'preview.png'))).toBe(true);
  });
});
