import { Schema, type Connection } from 'mongoose';
import type { ReviewDecision, TriageFinding } from '../contracts/imaging-api';
import { modelOn } from './model-on';
import type { StoredBox } from './imaging-study';

/** One radiologist decision on one AI finding. Append-only: a later review supersedes, never edits. */
export interface RadiologistReview {
  _id: string;
  studyId: string;
  patientId: string;
  finding: TriageFinding;
  decision: ReviewDecision;
  /** What the model said when the radiologist reviewed it. */
  modelFlagged: boolean;
  modelScore: number;
  modelVersion: string;
  boxes: StoredBox[];
  comment?: string;
  reviewerId: string;
  reviewerFacilityId: string;
  createdAt: Date;
}

const radiologistReviewSchema = new Schema<RadiologistReview>(
  {
    _id: { type: String, required: true },
    studyId: { type: String, required: true, index: true },
    patientId: { type: String, required: true },
    finding: { type: String, enum: ['tb', 'nodule'], required: true },
    decision: { type: String, enum: ['confirmed', 'rejected'], required: true },
    modelFlagged: { type: Boolean, required: true },
    modelScore: { type: Number, required: true },
    modelVersion: { type: String, required: true },
    boxes: [{ _id: false, x_min: Number, y_min: Number, x_max: Number, y_max: Number }],
    comment: { type: String, maxlength: 2000 },
    reviewerId: { type: String, required: true },
    reviewerFacilityId: { type: String, required: true },
  },
  { timestamps: { createdAt: true, updatedAt: false }, versionKey: false, collection: 'triage_reviews' },
);

export const radiologistReviewModel = (conn: Connection) => modelOn(conn, 'RadiologistReview', radiologistReviewSchema);
