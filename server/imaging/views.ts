/** Stored documents → API views (contracts/imaging-api.ts). */
import type { ImagingStudyView, RadiologistReviewView, TriageFindingView, TriageView } from '../../contracts/imaging-api';
import type { ImagingStudy, StoredReviewSummary } from '../../models/imaging-study';
import { strongestFlag } from '../../contracts/triage-priority';

export const studyUrl = (id: string) => `/api/imaging/studies/${encodeURIComponent(id)}`;

export function reviewView(r: StoredReviewSummary): RadiologistReviewView {
  return {
    id: r.reviewId,
    finding: r.finding,
    decision: r.decision,
    boxes: r.boxes.map(({ x_min, y_min, x_max, y_max }) => ({ x_min, y_min, x_max, y_max })),
    ...(r.comment ? { comment: r.comment } : {}),
    reviewerId: r.reviewerId,
    reviewedAt: new Date(r.reviewedAt).toISOString(),
  };
}

export function findingViews(study: ImagingStudy): TriageFindingView[] {
  return (study.triage.findings ?? []).map((f) => {
    const review = study.reviews.find((r) => r.finding === f.finding);
    return {
      finding: f.finding,
      score: f.score,
      flagged: f.flagged,
      ...(f.threshold !== undefined ? { threshold: f.threshold } : {}),
      ...(f.calibrated !== undefined ? { calibrated: f.calibrated } : {}),
      heatmapUrl: `${studyUrl(study._id)}/heatmap/${f.finding}.png`,
      ...(review ? { review: reviewView(review) } : {}),
    };
  });
}

/** The flagged finding with the highest score (the one a flag badge names). */
/** The finding the flag badge names: the flagged one furthest into its flagged range (contracts/triage-priority.ts). */
export function flagOf(study: ImagingStudy): TriageView['flag'] {
  const top = strongestFlag(study.triage.findings ?? []);
  return top ?? undefined;
}

function gateView(t: ImagingStudy['triage']): TriageView['gate'] {
  if (!t.gate) return undefined;
  return {
    by: t.gate.by,
    reason: t.gate.reason,
    ...(typeof t.gate.chestProbability === 'number' && Number.isFinite(t.gate.chestProbability) ? { chestProbability: t.gate.chestProbability } : {}),
    ...(t.gate.modelVersion ? { model: { version: t.gate.modelVersion, ...(t.gate.modelSha256 ? { sha256: t.gate.modelSha256 } : {}) } } : {}),
  };
}

export function triageView(study: ImagingStudy): TriageView {
  const t = study.triage;
  const gate = gateView(t);
  if (t.state !== 'done') return { state: t.state, ...(t.message ? { message: t.message } : {}), ...(gate ? { gate } : {}) };
  const flag = flagOf(study);
  return {
    state: 'done',
    model: {
      name: t.modelName ?? '',
      version: t.modelVersion ?? '',
      sha256: t.modelSha256 ?? '',
      models: (t.models ?? []).map(({ name, version, sha256 }) => ({ name, version, sha256 })),
    },
    findings: findingViews(study),
    lesions: (t.lesions ?? []).map(({ finding, score, x_min, y_min, x_max, y_max }) => ({ finding, score, x_min, y_min, x_max, y_max })),
    maxScore: study.maxScore,
    anyFlagged: study.anyFlagged,
    ...(flag ? { flag } : {}),
    ...(gate ? { gate } : {}),
    ...(t.timings
      ? {
          timings: {
            decodeMs: t.timings.decodeMs,
            preprocessMs: t.timings.preprocessMs,
            inferenceMs: t.timings.inferenceMs,
            postprocessMs: t.timings.postprocessMs,
          },
        }
      : {}),
    ...(t.completedAt ? { completedAt: new Date(t.completedAt).toISOString() } : {}),
  };
}

export function studyView(study: ImagingStudy): ImagingStudyView {
  const observationIds: Partial<Record<'tb' | 'nodule', string>> = {};
  for (const o of study.fhirObservations) observationIds[o.finding] = o.id;
  return {
    id: study._id,
    patientId: study.patientId,
    ...(study.consultId ? { consultId: study.consultId } : {}),
    uploadedBy: study.uploadedBy,
    uploadedAt: new Date(study.createdAt).toISOString(),
    format: study.format,
    contentType: study.contentType,
    size: study.size,
    sha256: study.sha256,
    width: study.width,
    height: study.height,
    ...(study.modality ? { modality: study.modality } : {}),
    ...(study.format === 'dicom'
      ? {
          dicom: {
            ...(study.studyInstanceUid ? { studyInstanceUid: study.studyInstanceUid } : {}),
            ...(study.seriesInstanceUid ? { seriesInstanceUid: study.seriesInstanceUid } : {}),
            ...(study.sopInstanceUid ? { sopInstanceUid: study.sopInstanceUid } : {}),
            ...(study.bodyPart ? { bodyPart: study.bodyPart } : {}),
          },
        }
      : {}),
    previewUrl: `${studyUrl(study._id)}/preview.png`,
    originalUrl: `${studyUrl(study._id)}/original`,
    triage: triageView(study),
    reviewStatus: study.reviewStatus,
    ...(study.pacsSync ? { pacs: { sync: study.pacsSync, ...(study.pacsError ? { message: study.pacsError } : {}) } } : {}),
    fhir: {
      sync: study.fhirSync,
      ...(study.fhirImagingStudyId ? { imagingStudyId: study.fhirImagingStudyId } : {}),
      ...(study.fhirDiagnosticReportId ? { diagnosticReportId: study.fhirDiagnosticReportId } : {}),
      ...(study.fhirObservations.length ? { observationIds } : {}),
    },
  };
}

export function contentTypeOf(format: ImagingStudy['format']): string {
  return format === 'png' ? 'image/png' : format === 'jpeg' ? 'image/jpeg' : 'application/dicom';
}
