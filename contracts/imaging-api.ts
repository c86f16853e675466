/** HTTP API types of the imaging feature, shared by server/ and client/. */

export type TriageFinding = 'tb' | 'nodule';
export const TRIAGE_FINDINGS: readonly TriageFinding[] = ['tb', 'nodule'];

/**
 * Where the AI triage of a study stands. 'unavailable': no model was loaded when the study arrived.
 * 'not_scored': the input gate found it is not a frontal chest X-ray (DICOM tags or the pixel
 * check): stored and viewable, no scores, no findings, never on the worklist.
 */
export type TriageState = 'queued' | 'running' | 'done' | 'failed' | 'unavailable' | 'not_scored';
export type ReviewDecision = 'confirmed' | 'rejected';
/** 'open': a flagged finding (or, for a study without flags, the study itself) still needs a radiologist. */
export type WorklistReviewStatus = 'open' | 'reviewed';
export type FhirSyncState = 'pending' | 'synced' | 'failed';

/**
 * A box in the ORIGINAL image's pixels (x right, y down, origin at the top-left corner of the
 * top-left pixel): model output, storage, API, FHIR and radiologist corrections all use this one
 * space, with the original size (`width`, `height` of the study or worklist item) beside it. Only
 * the viewer scales, at display time (the preview it shows may be smaller than the original).
 */
export interface LesionBox {
  x_min: number;
  y_min: number;
  x_max: number;
  y_max: number;
}

export interface TriageLesion extends LesionBox {
  finding: TriageFinding;
  score: number;
}

export interface RadiologistReviewView {
  id: string;
  finding: TriageFinding;
  decision: ReviewDecision;
  /** Corrected or added boxes (original pixels). */
  boxes: LesionBox[];
  comment?: string;
  reviewerId: string;
  reviewedAt: string;
}

export interface TriageFindingView {
  finding: TriageFinding;
  score: number;
  flagged: boolean;
  /** The flag threshold (flagged = score ≥ threshold); absent on studies triaged before it was recorded. */
  threshold?: number;
  /** true: `score` is a calibrated probability of the finding; false/absent: a model score, not a probability. */
  calibrated?: boolean;
  /** URL of the heatmap overlay PNG (RGBA, image aspect). */
  heatmapUrl: string;
  /** The latest radiologist review of this finding, if any. */
  review?: RadiologistReviewView;
}

export interface TriageView {
  state: TriageState;
  message?: string;
  model?: { name: string; version: string; sha256: string; models: { name: string; version: string; sha256: string }[] };
  findings?: TriageFindingView[];
  lesions?: TriageLesion[];
  /** Flagged first: the highest-scoring flagged finding's score, else the highest score (what queues sort by). */
  maxScore?: number;
  anyFlagged?: boolean;
  /** The flagged finding with the highest score (what a flag badge names), when any is flagged. */
  flag?: { finding: TriageFinding; score: number; threshold?: number };
  /** The input gate: what decided that the image is (or is not) a frontal chest X-ray. */
  gate?: { by: 'dicom-tags' | 'pixels'; reason: string; chestProbability?: number; model?: { version: string; sha256?: string } };
  timings?: { decodeMs: number; preprocessMs: number; inferenceMs: number; postprocessMs: number };
  completedAt?: string;
}

export interface ImagingStudyView {
  id: string;
  patientId: string;
  consultId?: string;
  uploadedBy: string;
  uploadedAt: string;
  format: 'png' | 'jpeg' | 'dicom';
  contentType: string;
  size: number;
  sha256: string;
  width: number;
  height: number;
  modality?: string;
  dicom?: { studyInstanceUid?: string; seriesInstanceUid?: string; sopInstanceUid?: string; bodyPart?: string };
  previewUrl: string;
  originalUrl: string;
  triage: TriageView;
  reviewStatus: WorklistReviewStatus;
  /** Only when a DICOMweb PACS is configured and the upload is DICOM (STOW-RS). */
  pacs?: { sync: 'stored' | 'failed'; message?: string };
  fhir: { sync: FhirSyncState; imagingStudyId?: string; diagnosticReportId?: string; observationIds?: Partial<Record<TriageFinding, string>> };
}

export interface ImagingStudyListResponse {
  studies: ImagingStudyView[];
}

export interface WorklistPatientHeader {
  id: string;
  name: string;
  birthDate?: string;
  gender?: string;
}

export interface WorklistItem {
  studyId: string;
  patient: WorklistPatientHeader | null;
  uploadedAt: string;
  waitingMinutes: number;
  previewUrl: string;
  /** Original image size in pixels: the coordinate space of `lesions` and review boxes. */
  width: number;
  height: number;
  anyFlagged: boolean;
  maxScore: number;
  /** The flagged finding with the highest score, when any is flagged. */
  flag?: { finding: TriageFinding; score: number; threshold?: number };
  findings: TriageFindingView[];
  lesions: TriageLesion[];
  reviewStatus: WorklistReviewStatus;
  consultId?: string;
  modality?: string;
}

export interface WorklistResponse {
  items: WorklistItem[];
}

/** POST /api/triage/studies/:id/review */
export interface RadiologistReviewRequest {
  finding: TriageFinding;
  decision: ReviewDecision;
  boxes?: LesionBox[];
  comment?: string;
}

export interface RadiologistReviewResponse {
  review: RadiologistReviewView;
  study: ImagingStudyView;
}

export interface FindingAgreement {
  finding: TriageFinding;
  /** Studies whose triage flagged the finding and a radiologist has reviewed (latest review counts). */
  flagsReviewed: number;
  confirmed: number;
  rejected: number;
  /** confirmed / flagsReviewed; null when nothing was reviewed. */
  ppv: number | null;
  /** Unflagged studies where the radiologist said the finding is present (decision 'rejected' of the negative call). */
  missedFindings: number;
  /** Radiologist boxes (finding present) overlapping no model box (IoU < 0.1). */
  missedLesions: number;
  /** Reviews of unflagged studies (the model's negative call reviewed). */
  negativesReviewed: number;
}

export interface TriageStatsResponse {
  findings: FindingAgreement[];
  studiesReviewed: number;
  generatedAt: string;
}
