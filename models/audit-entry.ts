import { Schema, type Connection } from 'mongoose';
import { modelOn } from './model-on';

/**
 * One link of the append-only, hash-chained audit trail. `event` is a FHIR R4 AuditEvent;
 * `hash` = SHA-256 over canonical JSON of {seq, prevHash, event}. The flat fields duplicate
 * parts of the event for querying and are covered by the hash through `event`.
 */
export interface AuditEntry {
  _id: number; // = seq, so a gap is visible and two writers cannot take one number
  prevHash: string;
  hash: string;
  event: Record<string, unknown>;
  recorded: string;
  action: string;
  kind: string;
  agentUserId?: string;
  patientId?: string;
  breakGlass: boolean;
  success: boolean;
}

const auditEntrySchema = new Schema<AuditEntry>(
  {
    _id: { type: Number, required: true },
    prevHash: { type: String, required: true },
    hash: { type: String, required: true },
    event: { type: Schema.Types.Mixed, required: true },
    recorded: { type: String, required: true },
    action: { type: String, required: true },
    kind: { type: String, required: true },
    agentUserId: { type: String },
    patientId: { type: String },
    breakGlass: { type: Boolean, default: false },
    success: { type: Boolean, required: true },
  },
  { versionKey: false, minimize: false },
);
auditEntrySchema.index({ patientId: 1, _id: -1 });
auditEntrySchema.index({ agentUserId: 1, _id: -1 });
auditEntrySchema.index({ breakGlass: 1, _id: -1 });

/**
 * The newest sequence number and hash, kept apart so that removing the last entries is detected too.
 * Moved forward once per written batch (never backwards: the update is conditional on `seq`), so every
 * entry up to `seq` is stored when the anchor says so. `mac` is the keyed checkpoint of that head.
 */
export interface AuditAnchor {
  _id: string;
  seq: number;
  hash: string;
  /** HMAC-SHA256 over (seq, hash) with the audit key, which is never stored in the database. */
  mac?: string;
}
const auditAnchorSchema = new Schema<AuditAnchor>(
  { _id: { type: String, required: true }, seq: { type: Number, required: true }, hash: { type: String, required: true }, mac: { type: String } },
  { versionKey: false },
);

/**
 * A keyed checkpoint of the head at some moment: kept (one every few seconds and one at shutdown) so
 * the verifier can tell where a rewrite of the chain starts: the newest checkpoint that still agrees
 * with the chain is before it, the first that disagrees after it.
 */
export interface AuditCheckpoint {
  _id: number; // = seq of the head it certifies
  hash: string;
  at: string;
  mac: string;
}
const auditCheckpointSchema = new Schema<AuditCheckpoint>(
  {
    _id: { type: Number, required: true },
    hash: { type: String, required: true },
    at: { type: String, required: true },
    mac: { type: String, required: true },
  },
  { versionKey: false, collection: 'audit_checkpoints' },
);

export const auditEntryModel = (conn: Connection) => modelOn(conn, 'AuditEntry', auditEntrySchema);
export const auditAnchorModel = (conn: Connection) => modelOn(conn, 'AuditAnchor', auditAnchorSchema);
export const auditCheckpointModel = (conn: Connection) => modelOn(conn, 'AuditCheckpoint', auditCheckpointSchema);
