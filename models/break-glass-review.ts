import { Schema, type Connection } from 'mongoose';
import { modelOn } from './model-on';

/** An administrator's review of one break-glass access ("mark reviewed" with a note). One per grant. */
export interface BreakGlassReviewDoc {
  /** The grant's id (BreakGlassGrantDoc._id): one review per grant. */
  _id: string;
  patientId: string;
  reviewerId: string;
  note: string;
  reviewedAt: Date;
}

const breakGlassReviewSchema = new Schema<BreakGlassReviewDoc>(
  {
    _id: { type: String, required: true },
    patientId: { type: String, required: true },
    reviewerId: { type: String, required: true },
    note: { type: String, required: true, maxlength: 2000 },
    reviewedAt: { type: Date, required: true },
  },
  { versionKey: false, collection: 'break_glass_reviews' },
);

export const breakGlassReviewModel = (conn: Connection) => modelOn(conn, 'BreakGlassReview', breakGlassReviewSchema);
