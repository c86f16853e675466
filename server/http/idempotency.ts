/**
 * `Idempotency-Key` for POSTs under /api: the first request with a key runs and its answer is
 * stored; a retry with the same key (same caller, path and body) gets that answer replayed
 * (`Idempotent-Replayed: true`) instead of doing the work again. While the first is still
 * running a retry gets 409 (Retry-After); the same key with a different body is a 422.
 * Answers that depend on timing (5xx, 401, 403, 408, 409, 429, 499) are not kept, so those retries run;
 * after a deadline answer the key stays "in progress" until the attempt is stale (its work may still finish).
 * Mounted after each mount's guards, so the caller is known; requests without a caller or without
 * the header pass through untouched.
 */
import { createHash } from 'node:crypto';
import type { RequestHandler } from 'express';
import type { Connection } from 'mongoose';
import { IDEMPOTENCY_TTL_S, idempotencyRecordModel } from '../../models/idempotency-record';
import type { Logger } from '../observability/logger';
import { ConflictError, DeadlineExceededError, DomainError, InvalidInputError } from '../platform/errors';

const KEY = /^[\x21-\x7e]{1,255}$/;
/** Answers larger than this are not stored (the key then only guards against concurrent duplicates). */
const MAX_STORED_BYTES = 1024 * 1024;
const NOT_STORED = new Set([401, 403, 408, 409, 429, 499]);
const REPLAYED_HEADERS = ['content-type', 'location', 'etag', 'last-modified'];

const sha256 = (s: string | Buffer) => createHash('sha256').update(s).digest('hex');

/** `pendingStaleMs`: after this long an unfinished first attempt no longer blocks its key (longer than the request deadline). */
export function idempotency(conn: Connection, logger: Logger, pendingStaleMs: number): RequestHandler {
  const records = idempotencyRecordModel(conn);
  return async (req, res, next) => {
    const key = req.header('idempotency-key');
    // eslint-disable-next-line @typescript-eslint/no-unnecessary-condition -- runtime: req.context is only set once the request-context middleware ran
    const caller = req.context?.caller;
    if (req.method !== 'POST' || key === undefined || !caller) {
      next();
      return;
    }
    if (!KEY.test(key)) throw new InvalidInputError('Idempotency-Key must be 1 to 255 visible ASCII characters', ['Idempotency-Key']);
    const id = sha256(`${caller.userId}\n${req.method}\n${req.originalUrl}\n${key}`);
    // A multipart body is not read yet: its length and type stand for it.
    const fingerprint =
      typeof req.body === 'object' && req.body !== null
        ? sha256(JSON.stringify(req.body))
        : sha256(`${req.header('content-type') ?? ''}|${req.header('content-length') ?? ''}`);

    const claim = () =>
      records
        .create({ _id: id, fingerprint, state: 'pending', createdAt: new Date() })
        .then(() => true)
        .catch((err: unknown) => {
          if ((err as { code?: number }).code === 11000 || /duplicate key|E11000|UNIQUE/i.test((err as Error).message)) return false;
          throw err;
        });
    let claimed = await claim();
    let prior = claimed ? null : await records.findById(id).lean();
    // An expired answer, or a first attempt abandoned long ago (its work stopped at its deadline): start afresh.
    const now = Date.now();
    if (
      !claimed &&
      (!prior || prior.createdAt.getTime() < now - IDEMPOTENCY_TTL_S * 1000 || (prior.state === 'pending' && prior.createdAt.getTime() < now - pendingStaleMs))
    ) {
      await records.deleteOne({ _id: id, ...(prior ? { createdAt: prior.createdAt } : {}) });
      claimed = await claim();
      prior = claimed ? null : await records.findById(id).lean();
    }
    if (!claimed) {
      if (!prior) throw new ConflictError('A request with this Idempotency-Key is being processed; retry shortly', 'idempotency_in_progress');
      if (prior.fingerprint !== fingerprint)
        throw new DomainError(422, 'idempotency_key_reused', 'This Idempotency-Key was used for a different request; use a new key for a new request');
      if (prior.state === 'pending') {
        res.setHeader('Retry-After', '1');
        throw new ConflictError('A request with this Idempotency-Key is still being processed; retry shortly', 'idempotency_in_progress');
      }
      res.status(prior.status ?? 200);
      for (const [name, value] of Object.entries(prior.headers ?? {})) res.setHeader(name, value);
      res.setHeader('Idempotent-Replayed', 'true');
      res.end(Buffer.from(prior.body ?? '', 'base64'));
      return;
    }

    // Keep a copy of what is sent; store it when the answer ends (even if the client has gone), then send it.
    const chunks: Buffer[] = [];
    let size = 0;
    const write = res.write.bind(res) as (...a: unknown[]) => boolean;
    const end = res.end.bind(res) as (...a: unknown[]) => typeof res;
    const keep = (chunk: unknown, encoding: unknown) => {
      if (chunk === undefined || chunk === null || typeof chunk === 'function' || size > MAX_STORED_BYTES) return;
      const buf = Buffer.isBuffer(chunk) ? chunk : Buffer.from(chunk as string, typeof encoding === 'string' ? (encoding as BufferEncoding) : 'utf8');
      size += buf.length;
      chunks.push(buf);
    };
    res.write = ((chunk: unknown, ...rest: unknown[]) => {
      keep(chunk, rest[0]);
      return write(chunk, ...rest);
    }) as typeof res.write;
    // The answer leaves once it is stored, so a retry sent as soon as it arrives is replayed, not told "in progress".
    res.end = ((chunk?: unknown, ...rest: unknown[]) => {
      keep(chunk, rest[0]);
      void settle(res.statusCode).finally(() => end(chunk, ...rest));
      return res;
    }) as typeof res.end;
    let settled = false;
    const settle = async (status: number): Promise<void> => {
      if (settled) return;
      settled = true;
      // Answered at the deadline: the work may still finish, so the key stays "in progress" (a retry
      // gets 409) until the attempt is stale, rather than letting a retry do it a second time.
      if (req.context.signal?.reason instanceof DeadlineExceededError) return;
      const store = status < 500 && !NOT_STORED.has(status) && size <= MAX_STORED_BYTES;
      const headers: Record<string, string> = {};
      for (const name of REPLAYED_HEADERS) {
        const v = res.getHeader(name);
        if (v !== undefined) headers[name] = String(v);
      }
      const done = store
        ? records.updateOne({ _id: id }, { $set: { state: 'done', status, headers, body: Buffer.concat(chunks).toString('base64') } })
        : records.deleteOne({ _id: id });
      await done.catch((err: unknown) => logger.error({ err }, 'could not store an idempotent answer'));
    };
    next();
  };
}
