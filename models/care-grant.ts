import { Schema, type Connection } from 'mongoose';
import { modelOn } from './model-on';

/**
 * An explicit care relationship: staff of a facility already in a patient's care team added another
 * facility to it (e.g. the district clinic refers the patient to the provincial hospital). Never
 * inferred from record content. Revoking keeps the document (revokedAt) for the audit trail.
 */
export interface CareGrantDoc {
  _id: string;
  patientId: string;
  facilityId: string;
  reason: string;
  grantedBy: { userId: string; role: string; facilityId: string };
  grantedAt: Date;
  revokedAt: Date | null;
  revokedBy: string | null;
}

const careGrantSchema = new Schema<CareGrantDoc>(
  {
    _id: { type: String, required: true },
    patientId: { type: String, required: true },
    facilityId: { type: String, required: true },
    reason: { type: String, required: true, maxlength: 2000 },
    grantedBy: {
      userId: { type: String, required: true },
      role: { type: String, required: true },
      facilityId: { type: String, required: true },
    },
    grantedAt: { type: Date, required: true },
    revokedAt: { type: Date, default: null },
    revokedBy: { type: String, default: null },
  },
  { versionKey: false, collection: 'fhir_care_grants' },
);
careGrantSchema.index({ patientId: 1, revokedAt: 1 });
careGrantSchema.index({ facilityId: 1, revokedAt: 1 });

export const careGrantModel = (conn: Connection) => modelOn(conn, 'CareGrant', careGrantSchema);
