/**
 * DICOMweb against a real PACS: Debian's Orthanc + DICOMweb plugin started on loopback.
 * Skipped (with a note) where Orthanc is not installed: apt-get install orthanc orthanc-dicomweb.
 */
import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { DicomwebClient } from '../../../server/imaging/dicomweb';
import { DEMO } from '../../support/platform';
import { DICOM, PATIENT_MOCCHAU, startImagingHarness, type ImagingHarness } from './harness';
import { orthancInstalled, startOrthanc, type RunningOrthanc } from './orthanc';

const sha = (b: Uint8Array) => createHash('sha256').update(b).digest('hex');

if (!orthancInstalled) {
  test.skip('DICOMweb tests need Debian orthanc + orthanc-dicomweb', () => undefined);
} else {
  let orthanc: RunningOrthanc;
  beforeAll(async () => {
    orthanc = await startOrthanc();
  }, 60_000);
  afterAll(async () => {
    await orthanc?.stop();
  });

  describe('DicomwebClient against Orthanc', () => {
    test('STOW-RS stores, QIDO-RS finds, WADO-RS returns the same bytes', async () => {
      const client = new DicomwebClient({ url: orthanc.dicomwebUrl });
      const bytes = readFileSync(path.join(DICOM, '04_Monochrome1-Jpeg.dcm'));
      const stored = await client.store(bytes);
      expect(stored.sopInstanceUid).toBeTruthy();
      const studies = await client.searchStudies({});
      expect(studies.length).toBe(1);
      const studyUid = studies[0]!['0020000D']!.Value![0] as string;
      const found = await client.searchStudies({ StudyInstanceUID: studyUid });
      expect(found).toHaveLength(1);
      expect(await client.searchStudies({ StudyInstanceUID: '1.2.3.999' })).toEqual([]);
      const seriesUid = await fetch(`${orthanc.dicomwebUrl}/studies/${studyUid}/series`, { headers: { accept: 'application/dicom+json' } }).then(
        async (r) => ((await r.json()) as Record<string, { Value: string[] }>[])[0]!['0020000E']!.Value[0]!,
      );
      const back = await client.retrieveInstance(studyUid, seriesUid, stored.sopInstanceUid!);
      expect(sha(back)).toBe(sha(bytes));
    });

    test('a PACS that is down gives a DicomwebError, not a crash', async () => {
      const client = new DicomwebClient({ url: 'http://127.0.0.1:9/dicom-web', timeoutMs: 2000 });
      await expect(client.searchStudies({})).rejects.toThrow(/could not be reached/);
    });
  });

  describe('upload with a PACS configured', () => {
    let h: ImagingHarness;
    beforeAll(async () => {
      h = await startImagingHarness({ dicomweb: { url: orthanc.dicomwebUrl } });
    }, 120_000);
    afterAll(async () => {
      await h?.close();
    });

    test('a DICOM upload is sent to the PACS (STOW-RS) and can be found there (QIDO-RS)', async () => {
      const referrer = (await h.tp.login(DEMO.referrer)).accessToken;
      const res = await h.upload(referrer, readFileSync(path.join(DICOM, '03_gdcm-CR-MONO1-10-chest.dcm')), { patientId: PATIENT_MOCCHAU });
      expect(res.status).toBe(201);
      expect(res.body.pacs).toEqual({ sync: 'stored' });
      const client = new DicomwebClient({ url: orthanc.dicomwebUrl });
      expect(await client.searchStudies({ StudyInstanceUID: res.body.dicom.studyInstanceUid })).toHaveLength(1);
    });
  });
}
