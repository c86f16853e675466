import { Schema, type Connection } from 'mongoose';
import { modelOn } from './model-on';

/** Emergency ("break the glass") access of one user to one patient's record, time-limited and reviewed by admins. */
export interface BreakGlassGrantDoc {
  _id: string;
  userId: string;
  role: string;
  facilityId: string;
  patientId: string;
  reason: string;
  grantedAt: Date;
  expiresAt: Date;
}

const breakGlassSchema = new Schema<BreakGlassGrantDoc>(
  {
    _id: { type: String, required: true },
    userId: { type: String, required: true },
    role: { type: String, required: true },
    facilityId: { type: String, required: true },
    patientId: { type: String, required: true },
    reason: { type: String, required: true, maxlength: 2000 },
    grantedAt: { type: Date, required: true },
    expiresAt: { type: Date, required: true },
  },
  { versionKey: false, collection: 'fhir_break_glass' },
);
breakGlassSchema.index({ userId: 1, patientId: 1, expiresAt: -1 });
breakGlassSchema.index({ grantedAt: -1 });

export const breakGlassGrantModel = (conn: Connection) => modelOn(conn, 'BreakGlassGrant', breakGlassSchema);
