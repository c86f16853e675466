/** The FHIR resources of a study pass the EMR's R4 structural validation (server/emr/validation.ts). */
import type { ImagingStudy } from '../../../models/imaging-study';
import { diagnosticReportResource, imagingStudyResource, observationResource } from '../../../server/imaging/fhir-resources';
import { validateResource } from '../../../server/emr/validation';

const now = new Date('2026-11-21T08:00:00Z');

function study(overrides: Partial<ImagingStudy> = {}): ImagingStudy {
  return {
    _id: '5b0c8f3e-0000-4000-8000-000000000001',
    patientId: 'pat-demo-hoa',
    uploadedBy: 'usr-referrer',
    uploaderFacilityId: 'fac-mocchau',
    format: 'dicom',
    contentType: 'application/dicom',
    size: 1000,
    sha256: 'a'.repeat(64),
    originalPath: 'originals/aa/' + 'a'.repeat(64),
    previewPath: 'derived/x/preview.png',
    width: 440,
    height: 440,
    modality: 'CR',
    studyInstanceUid: '1.2.3.4',
    seriesInstanceUid: '1.2.3.4.5',
    sopInstanceUid: '1.2.3.4.5.6',
    triage: {
      state: 'done',
      modelName: 'hoichan-cxr',
      modelVersion: '0.1.0',
      modelSha256: 'b'.repeat(64),
      models: [],
      findings: [
        { finding: 'tb', score: 0.93, flagged: true, heatmapPath: 'derived/x/heatmap-tb.png' },
        { finding: 'nodule', score: 0.1, flagged: false, heatmapPath: 'derived/x/heatmap-nodule.png' },
      ],
      lesions: [{ finding: 'tb', score: 0.95, x_min: 10, y_min: 20, x_max: 100, y_max: 120 }],
      completedAt: now,
    },
    anyFlagged: true,
    maxScore: 0.93,
    reviews: [],
    reviewStatus: 'open',
    fhirSync: 'pending',
    fhirImagingStudyId: 'is-1',
    fhirObservations: [
      { finding: 'tb', id: 'obs-tb' },
      { finding: 'nodule', id: 'obs-nodule' },
    ],
    createdAt: now,
    updatedAt: now,
    ...overrides,
  };
}

test('ImagingStudy (DICOM with UIDs, and PNG without) is valid R4', () => {
  const dicom = imagingStudyResource(study());
  expect(validateResource(dicom)).toEqual([]);
  expect(dicom).toMatchObject({ status: 'available', modality: [{ code: 'CR' }], series: [{ uid: '1.2.3.4.5', instance: [{ uid: '1.2.3.4.5.6' }] }] });
  const png = imagingStudyResource(
    study({ format: 'png', modality: undefined, studyInstanceUid: undefined, seriesInstanceUid: undefined, sopInstanceUid: undefined }),
  );
  expect(validateResource(png)).toEqual([]);
  expect(png.modality).toEqual([{ system: 'http://dicom.nema.org/resources/ontology/DCM', code: 'DX' }]);
});

test('Observations: preliminary, then final / amended with the radiologist as performer', () => {
  const s = study();
  const tb = observationResource(s, 'tb', '/api/imaging/studies/x/heatmap/tb.png');
  expect(validateResource(tb)).toEqual([]);
  expect(tb).toMatchObject({
    id: 'obs-tb',
    status: 'preliminary',
    code: { text: 'AI tuberculosis lesion score' },
    valueQuantity: { value: 0.93 },
    interpretation: [{ coding: [{ code: 'POS' }] }],
    derivedFrom: [{ reference: 'ImagingStudy/is-1' }],
  });
  expect(JSON.stringify(tb.device)).toContain('b'.repeat(64));
  const review = {
    reviewId: 'r1',
    finding: 'tb' as const,
    decision: 'confirmed' as const,
    boxes: [{ x_min: 1, y_min: 2, x_max: 3, y_max: 4 }],
    comment: 'agree',
    reviewerId: 'usr-radiologist',
    reviewedAt: now,
  };
  const confirmed = observationResource({ ...s, reviews: [review] }, 'tb', 'u', review);
  expect(validateResource(confirmed)).toEqual([]);
  expect(confirmed).toMatchObject({ status: 'final', performer: [{ reference: 'Practitioner/usr-radiologist' }] });
  const rejected = observationResource(s, 'nodule', 'u', { ...review, finding: 'nodule', decision: 'rejected' });
  expect(rejected.status).toBe('amended');
  expect(validateResource(rejected)).toEqual([]);
});

test('DiagnosticReport says it is AI-generated and needs a radiologist', () => {
  const r = diagnosticReportResource(study());
  expect(validateResource(r)).toEqual([]);
  expect(r).toMatchObject({
    status: 'preliminary',
    code: { text: 'AI chest X-ray triage' },
    result: [{ reference: 'Observation/obs-tb' }, { reference: 'Observation/obs-nodule' }],
    imagingStudy: [{ reference: 'ImagingStudy/is-1' }],
  });
  expect(r.conclusion).toMatch(/AI-generated.*radiologist.*tuberculosis lesion/);
});
