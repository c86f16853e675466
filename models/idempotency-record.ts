import { Schema, type Connection } from 'mongoose';
import { modelOn } from './model-on';

/** How long a stored answer can be replayed for a retried request (also the TTL of the collection). */
export const IDEMPOTENCY_TTL_S = 24 * 60 * 60;

/**
 * The stored outcome of a POST sent with an `Idempotency-Key`, so a retry after an ambiguous
 * failure (timeout, dropped connection) gets the first answer instead of doing the work twice.
 */
export interface IdempotencyRecord {
  /** sha256 of caller, method, path and key. */
  _id: string;
  /** sha256 of the request body, so one key cannot be reused for a different request. */
  fingerprint: string;
  state: 'pending' | 'done';
  status?: number;
  headers?: Record<string, string>;
  /** The answer's bytes, base64. */
  body?: string;
  createdAt: Date;
}

const schema = new Schema<IdempotencyRecord>(
  {
    _id: { type: String, required: true },
    fingerprint: { type: String, required: true },
    state: { type: String, enum: ['pending', 'done'], required: true },
    status: Number,
    headers: { type: Schema.Types.Mixed },
    body: String,
    createdAt: { type: Date, required: true },
  },
  { versionKey: false, collection: 'idempotency_records', minimize: false },
);
// FerretDB v1 honours TTL indexes only partly: the middleware also treats older records as absent.
schema.index({ createdAt: 1 }, { expireAfterSeconds: IDEMPOTENCY_TTL_S });

export const idempotencyRecordModel = (conn: Connection) => modelOn(conn, 'IdempotencyRecord', schema);
