import { Schema, type Connection } from 'mongoose';
import { modelOn } from './model-on';
import { readFieldFromJson } from './resource-json';

/**
 * One link of the append-only, hash-chained audit trail, as readers see it. `event` is a FHIR R4
 * AuditEvent; `hash` = SHA-256 over canonical JSON of {seq, prevHash, event}. The flat fields
 * duplicate parts of the event for querying; the verifier checks that they say what the hashed
 * event says.
 */
export interface AuditEntry {
  /** The entry's number: chain × 10^10 + its place in the chain (`server/audit/trail-format.ts`), so a gap is visible. */
  _id: number;
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

/**
 * An entry as stored. The event is kept as JSON text in `eventJson`: exactly its canonical JSON,
 * the text the hash covers. FerretDB v1 converts every document between the backend's JSON and BSON
 * in Go, field by field, on insert and on read; a nested AuditEvent (agent[], entity[], codings) made
 * that conversion most of an audited read's database CPU, one string field costs a copy (the same
 * reason as FHIR bodies, `models/resource-json.ts`). Entries written before this carry the nested
 * `event` and no `eventJson`; they read and verify unchanged, so a trail may hold both shapes.
 */
export type StoredAuditEntry = Omit<AuditEntry, 'event'> & { eventJson?: string; event?: Record<string, unknown> };

const auditEntrySchema = new Schema<AuditEntry & { eventJson?: string }>(
  {
    _id: { type: Number, required: true },
    prevHash: { type: String, required: true },
    hash: { type: String, required: true },
    /** Entries written before `eventJson`: the nested event. */
    event: { type: Schema.Types.Mixed },
    eventJson: { type: String },
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
// Readers see `event` in both shapes (models/resource-json.ts); the verifier reads the stored shape
// through the driver's collection: it hashes the text as stored.
readFieldFromJson(auditEntrySchema, 'event', 'eventJson');

/**
 * The head of one chain, kept apart so that removing its last entries is detected too: `head` for the
 * chain written before there were chains, `chain-<n>` for the chain of one writer process. Moved forward
 * by its writer after a batch is stored (never backwards: the update is conditional on `seq`), so every
 * entry up to `seq` is stored when the anchor says so. `mac` is the keyed checkpoint of that head.
 * The document `chains` is the register: `seq` is the newest chain number, `mac` its keyed checkpoint.
 */
export interface AuditAnchor {
  _id: string;
  /** The id of the newest entry under the anchor (chain × 10^10 while the chain is empty); for the register, the newest chain. */
  seq: number;
  hash: string;
  /** HMAC-SHA256 over (seq, hash) with the audit key, which is never stored in the database. */
  mac?: string;
  /** Which process registered the chain (host/pid) and when: for an administrator, not part of the MAC. */
  writer?: string;
  registeredAt?: string;
}
const auditAnchorSchema = new Schema<AuditAnchor>(
  {
    _id: { type: String, required: true },
    seq: { type: Number, required: true },
    hash: { type: String, required: true },
    mac: { type: String },
    writer: { type: String },
    registeredAt: { type: String },
  },
  { versionKey: false },
);

/**
 * A keyed checkpoint of the head at some moment: kept (one every few seconds and one at shutdown) so
 * the verifier can tell where a rewrite of the chain starts: the newest checkpoint that still agrees
 * with the chain is before it, the first that disagrees after it.
 */
export interface AuditCheckpoint {
  _id: number; // = the id of the entry it certifies (its chain's head then)
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
