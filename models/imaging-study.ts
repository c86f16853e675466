import { Schema, type Connection } from 'mongoose';
import type { FhirSyncState, ReviewDecision, TriageFinding, TriageState, WorklistReviewStatus } from '../contracts/imaging-api';
import { modelOn } from './model-on';

export const IMAGE_FORMATS = ['png', 'jpeg', 'dicom'] as const;
export type StoredImageFormat = (typeof IMAGE_FORMATS)[number];

export interface StoredBox {
  x_min: number;
  y_min: number;
  x_max: number;
  y_max: number;
}

export interface StoredLesion extends StoredBox {
  finding: TriageFinding;
  score: number;
}

export interface StoredFindingResult {
  finding: TriageFinding;
  score: number;
  flagged: boolean;
  /** Flag threshold the score was compared with. */
  threshold?: number;
  /** The score is a calibrated probability (else the model's raw score). */
  calibrated?: boolean;
  /** Relative path of the overlay PNG under <dataDir>/imaging/. */
  heatmapPath: string;
}

/** The latest review of one finding (the full history lives in triage_reviews). */
export interface StoredReviewSummary {
  reviewId: string;
  finding: TriageFinding;
  decision: ReviewDecision;
  boxes: StoredBox[];
  comment?: string;
  reviewerId: string;
  reviewedAt: Date;
}

export interface StoredTriage {
  state: TriageState;
  message?: string;
  modelName?: string;
  modelVersion?: string;
  modelSha256?: string;
  models?: { name: string; version: string; sha256: string }[];
  findings?: StoredFindingResult[];
  lesions?: StoredLesion[];
  /** Input gate decision (scored studies: why they were scored; 'not_scored': why not). */
  gate?: { by: 'dicom-tags' | 'pixels'; reason: string; chestProbability?: number; modelVersion?: string; modelSha256?: string };
  timings?: { decodeMs: number; preprocessMs: number; inferenceMs: number; postprocessMs: number };
  completedAt?: Date;
}

/** One uploaded chest X-ray (one image = one study here), its AI triage and its review state. */
export interface ImagingStudy {
  _id: string;
  patientId: string;
  consultId?: string;
  uploadedBy: string;
  uploaderFacilityId: string;
  format: StoredImageFormat;
  contentType: string;
  size: number;
  sha256: string;
  /** Relative path of the original under <dataDir>/imaging/ (content-addressed). */
  originalPath: string;
  previewPath: string;
  width: number;
  height: number;
  modality?: string;
  studyInstanceUid?: string;
  seriesInstanceUid?: string;
  sopInstanceUid?: string;
  bodyPart?: string;
  triage: StoredTriage;
  /**
   * Denormalised for the worklist and consult-queue sort: any finding flagged, and maxScore = the
   * study's triage priority (contracts/triage-priority.ts: each finding on its own threshold, ≥ 0.5
   * when one is flagged; not a score to show). Studies triaged before that rule hold the highest
   * flagged score, else the highest score.
   */
  anyFlagged: boolean;
  maxScore: number;
  reviews: StoredReviewSummary[];
  reviewStatus: WorklistReviewStatus;
  fhirSync: FhirSyncState;
  /** DICOMweb STOW-RS to the PACS (DICOM uploads, when configured). */
  pacsSync?: 'stored' | 'failed';
  pacsError?: string;
  fhirError?: string;
  fhirImagingStudyId?: string;
  fhirDiagnosticReportId?: string;
  fhirObservations: { finding: TriageFinding; id: string }[];
  createdAt: Date;
  updatedAt: Date;
}

const box = { x_min: Number, y_min: Number, x_max: Number, y_max: Number };

const imagingStudySchema = new Schema<ImagingStudy>(
  {
    _id: { type: String, required: true },
    patientId: { type: String, required: true, index: true },
    consultId: { type: String, index: true },
    uploadedBy: { type: String, required: true },
    uploaderFacilityId: { type: String, required: true },
    format: { type: String, enum: IMAGE_FORMATS, required: true },
    contentType: { type: String, required: true },
    size: { type: Number, required: true },
    sha256: { type: String, required: true, index: true },
    originalPath: { type: String, required: true },
    previewPath: { type: String, required: true },
    width: { type: Number, required: true },
    height: { type: Number, required: true },
    modality: String,
    studyInstanceUid: String,
    seriesInstanceUid: String,
    sopInstanceUid: String,
    bodyPart: String,
    triage: {
      _id: false,
      state: { type: String, required: true },
      message: String,
      modelName: String,
      modelVersion: String,
      modelSha256: String,
      models: [{ _id: false, name: String, version: String, sha256: String }],
      findings: [{ _id: false, finding: String, score: Number, flagged: Boolean, threshold: Number, calibrated: Boolean, heatmapPath: String }],
      gate: { _id: false, by: String, reason: String, chestProbability: Number, modelVersion: String, modelSha256: String },
      lesions: [{ _id: false, finding: String, score: Number, ...box }],
      timings: { _id: false, decodeMs: Number, preprocessMs: Number, inferenceMs: Number, postprocessMs: Number },
      completedAt: Date,
    },
    anyFlagged: { type: Boolean, required: true },
    maxScore: { type: Number, required: true },
    reviews: [
      {
        _id: false,
        reviewId: String,
        finding: String,
        decision: String,
        boxes: [{ _id: false, ...box }],
        comment: String,
        reviewerId: String,
        reviewedAt: Date,
      },
    ],
    reviewStatus: { type: String, required: true },
    fhirSync: { type: String, required: true },
    pacsSync: String,
    pacsError: String,
    fhirError: String,
    fhirImagingStudyId: String,
    fhirDiagnosticReportId: String,
    fhirObservations: [{ _id: false, finding: String, id: String }],
  },
  { timestamps: true, versionKey: false, collection: 'imaging_studies' },
);
imagingStudySchema.index({ 'triage.state': 1, reviewStatus: 1, anyFlagged: -1, maxScore: -1, createdAt: 1 });

export const imagingStudyModel = (conn: Connection) => modelOn(conn, 'ImagingStudy', imagingStudySchema);
