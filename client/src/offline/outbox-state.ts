/**
 * The consult-request outbox's entries and their state transitions, as pure functions (no DOM, no
 * IndexedDB: unit-tested in test/unit/client/outbox-state.test.ts).
 *
 * queued ('chờ gửi') → sending ('đang gửi') → sent ('đã gửi', with the consult id)
 *                                           ↘ queued again after a network error, a timeout, a 5xx or
 *                                             another answer that depends on timing (backoff)
 *                                           ↘ failed, with the server's message, when the server
 *                                             refused the request (a 4xx): not retried blindly.
 * The entry's id is the request's Idempotency-Key, the same on every attempt, so a resend after an
 * unknown outcome gets the stored answer instead of a second consult.
 */
import type { CreateConsultRequestBody } from '../../../contracts/consult-api';

export type OutboxState = 'queued' | 'sending' | 'sent' | 'failed';

/** An X-ray kept with the request until it is uploaded; `studyId` once the server has it (never uploaded twice). */
export interface OutboxFile {
  name: string;
  type: string;
  blob: Blob;
  studyId?: string;
}

/** The form's fields as they will be posted (the study ids are added once the X-rays are uploaded). */
export type OutboxConsultFields = Omit<CreateConsultRequestBody, 'imagingStudyIds'>;

export interface OutboxError {
  status: number;
  code: string;
  message: string;
}

export interface OutboxEntry {
  /** Also the Idempotency-Key of the consult POST. */
  id: string;
  /** The doctor who composed it: only their session sends it (a clinic computer is shared). */
  userId: string;
  /** epoch ms */
  createdAt: number;
  updatedAt: number;
  state: OutboxState;
  consult: OutboxConsultFields;
  /** The patient as the doctor picked them (for the list while the EMR is out of reach). */
  patientLabel: string;
  files: OutboxFile[];
  attempts: number;
  /** epoch ms; a queued entry is not tried before. */
  nextAttemptAt: number;
  consultId?: string;
  /** failed: the server's refusal. queued: why the last attempt did not go through. */
  error?: OutboxError;
}

/** First retry after 2 s, doubling up to 5 minutes (a clinic link can be down for hours). */
export const BACKOFF_BASE_MS = 2_000;
export const BACKOFF_MAX_MS = 5 * 60_000;
/** Sent entries stay listed this long, then are pruned. */
export const SENT_KEPT_MS = 24 * 3600_000;

export function backoffMs(attempts: number): number {
  return Math.min(BACKOFF_MAX_MS, BACKOFF_BASE_MS * 2 ** Math.max(0, attempts - 1));
}

export function newEntry(
  init: { id: string; userId: string; consult: OutboxConsultFields; patientLabel: string; files: OutboxFile[] },
  now: number,
): OutboxEntry {
  return { ...init, createdAt: now, updatedAt: now, state: 'queued', attempts: 0, nextAttemptAt: now };
}

export function isDue(e: OutboxEntry, now: number): boolean {
  return e.state === 'queued' && e.nextAttemptAt <= now;
}

/** queued → sending. Throws for any other state (a sent or refused request is never sent again). */
export function startAttempt(e: OutboxEntry, now: number): OutboxEntry {
  if (e.state !== 'queued') throw new Error(`outbox entry ${e.id} is ${e.state}, not queued`);
  return { ...e, state: 'sending', attempts: e.attempts + 1, updatedAt: now };
}

export function fileUploaded(e: OutboxEntry, index: number, studyId: string, now: number): OutboxEntry {
  if (e.state !== 'sending') throw new Error(`outbox entry ${e.id} is ${e.state}, not sending`);
  return { ...e, files: e.files.map((f, i) => (i === index ? { ...f, studyId } : f)), updatedAt: now };
}

/** The body of the consult POST: identical on every attempt (the server compares it under the key). */
export function consultBody(e: OutboxEntry): CreateConsultRequestBody {
  const ids = e.files.map((f) => f.studyId);
  if (ids.some((id) => id === undefined)) throw new Error(`outbox entry ${e.id} has X-rays not uploaded yet`);
  return { ...e.consult, imagingStudyIds: ids as string[] };
}

export function attemptSucceeded(e: OutboxEntry, consultId: string, now: number): OutboxEntry {
  if (e.state !== 'sending') throw new Error(`outbox entry ${e.id} is ${e.state}, not sending`);
  // The X-rays are on the server now: drop the local copies (IndexedDB space on a clinic PC is finite).
  return { ...e, state: 'sent', consultId, error: undefined, files: e.files.map((f) => ({ ...f, blob: new Blob([]) })), updatedAt: now };
}

/**
 * Answers that say "try again later" rather than "this request is wrong": no answer at all (status 0:
 * network error, timeout), 5xx, 401 (the token is refreshed first), 408, 409 (the same key is still
 * being processed), 429.
 */
export function isRetryable(status: number): boolean {
  return status === 0 || status >= 500 || status === 401 || status === 408 || status === 409 || status === 429;
}

export function attemptFailed(e: OutboxEntry, error: OutboxError, now: number): OutboxEntry {
  if (e.state !== 'sending') throw new Error(`outbox entry ${e.id} is ${e.state}, not sending`);
  if (isRetryable(error.status)) return { ...e, state: 'queued', error, nextAttemptAt: now + backoffMs(e.attempts), updatedAt: now };
  return { ...e, state: 'failed', error, updatedAt: now };
}

/** An entry left 'sending' by a page that closed (or reloaded) mid-attempt: its outcome is unknown, so it is tried again with the same key. */
export function recoverInterrupted(e: OutboxEntry, now: number): OutboxEntry {
  return e.state === 'sending' ? { ...e, state: 'queued', nextAttemptAt: now, updatedAt: now } : e;
}

/** The link is back: queued entries waiting out their backoff are tried at once. */
export function dueNow(e: OutboxEntry, now: number): OutboxEntry {
  return e.state === 'queued' && e.nextAttemptAt > now ? { ...e, nextAttemptAt: now } : e;
}

/**
 * What a sign-out does to one doctor's entries on a shared clinic computer: what was sent goes at
 * once (its patient label is personal data the next user has no need of); what is not sent yet
 * (queued, interrupted, refused) is the doctor's to keep for their next sign-in or to discard.
 */
export function atSignOut(entries: readonly OutboxEntry[], userId: string): { removeNow: string[]; unsent: OutboxEntry[] } {
  const mine = entries.filter((e) => e.userId === userId);
  return { removeNow: mine.filter((e) => e.state === 'sent').map((e) => e.id), unsent: mine.filter((e) => e.state !== 'sent') };
}

export function isPrunable(e: OutboxEntry, now: number): boolean {
  return e.state === 'sent' && now - e.updatedAt > SENT_KEPT_MS;
}

/** Any error → what the outbox records: fetch's TypeError and an abort (timeout) have no answer (status 0). */
export function toOutboxError(err: unknown): OutboxError {
  if (typeof err === 'object' && err !== null) {
    const e = err as { status?: unknown; code?: unknown; message?: unknown; name?: unknown };
    const message = typeof e.message === 'string' ? e.message : '';
    if (typeof e.status === 'number') return { status: e.status, code: typeof e.code === 'string' ? e.code : `http_${e.status}`, message };
    return { status: 0, code: e.name === 'AbortError' || e.name === 'TimeoutError' ? 'timeout' : 'network', message };
  }
  return { status: 0, code: 'network', message: String(err) };
}
