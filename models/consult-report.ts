import { Schema, type Connection } from 'mongoose';
import { modelOn } from './model-on';

/**
 * One signed version of a consult report. Immutable once written: an amendment is version n+1
 * (status `amended`) with its own signature. `resource` is the FHIR DiagnosticReport exactly as
 * signed; `signature` is a detached JWS over its canonical JSON.
 */
export interface ConsultReport {
  _id: string; // `${consultId}:v${version}`, so two writers cannot both take one version
  consultId: string;
  patientId: string;
  version: number;
  status: 'final' | 'amended';
  resource: Record<string, unknown>;
  signature: string;
  kid: string;
  signerId: string;
  signedAt: Date;
  /** Id of the copy written into the patient's record, when the EMR took it. */
  recordResourceId: string | null;
}

const consultReportSchema = new Schema<ConsultReport>(
  {
    _id: { type: String, required: true },
    consultId: { type: String, required: true },
    patientId: { type: String, required: true },
    version: { type: Number, required: true },
    status: { type: String, enum: ['final', 'amended'], required: true },
    resource: { type: Schema.Types.Mixed, required: true },
    signature: { type: String, required: true },
    kid: { type: String, required: true },
    signerId: { type: String, required: true },
    signedAt: { type: Date, required: true },
    recordResourceId: { type: String, default: null },
  },
  { versionKey: false, minimize: false },
);
consultReportSchema.index({ consultId: 1, version: -1 });

export const consultReportModel = (conn: Connection) => modelOn(conn, 'ConsultReport', consultReportSchema);
