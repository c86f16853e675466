/** The consult-request outbox's state transitions (client/src/offline/outbox-state.ts): pure logic. */
import {
  atSignOut,
  attemptFailed,
  attemptSucceeded,
  BACKOFF_MAX_MS,
  backoffMs,
  consultBody,
  dueNow,
  fileUploaded,
  isDue,
  isPrunable,
  isRetryable,
  newEntry,
  recoverInterrupted,
  SENT_KEPT_MS,
  startAttempt,
  toOutboxError,
  type OutboxEntry,
} from '../../../client/src/offline/outbox-state';

const T0 = 1_700_000_000_000;

function entry(files = 1): OutboxEntry {
  return newEntry(
    {
      id: 'consult-key-1',
      userId: 'u1',
      patientLabel: 'Nguyễn Văn A',
      consult: { patientId: 'p1', reason: 'Ho kéo dài', clinicalQuestion: 'Lao?', urgency: 'urgent', requestedSpecialty: 'pulmonology', submit: true },
      files: Array.from({ length: files }, (_, i) => ({ name: `cxr${i}.png`, type: 'image/png', blob: new Blob(['x']) })),
    },
    T0,
  );
}

describe('consult-request outbox: state transitions', () => {
  it('a new entry is queued and due at once', () => {
    const e = entry();
    expect(e.state).toBe('queued');
    expect(e.attempts).toBe(0);
    expect(isDue(e, T0)).toBe(true);
  });

  it('queued → sending → sent keeps the id (the Idempotency-Key) and the study ids, and drops the local X-ray copy', () => {
    let e = startAttempt(entry(), T0);
    expect(e.state).toBe('sending');
    expect(e.attempts).toBe(1);
    expect(isDue(e, T0)).toBe(false);
    expect(() => consultBody(e)).toThrow(/not uploaded/);
    e = fileUploaded(e, 0, 'study-1', T0 + 1);
    expect(consultBody(e)).toEqual({ ...e.consult, imagingStudyIds: ['study-1'] });
    e = attemptSucceeded(e, 'consult-9', T0 + 2);
    expect(e).toMatchObject({ state: 'sent', consultId: 'consult-9', id: 'consult-key-1' });
    expect(e.files[0]?.studyId).toBe('study-1');
    expect(e.files[0]?.blob.size).toBe(0);
  });

  it('the consult body is the same on every attempt (the server compares it under the key)', () => {
    let first = startAttempt(entry(), T0);
    first = fileUploaded(first, 0, 'study-1', T0);
    const again = startAttempt(attemptFailed(first, { status: 0, code: 'network', message: 'Network error' }, T0), T0 + 10_000);
    expect(JSON.stringify(consultBody(again))).toBe(JSON.stringify(consultBody(first)));
    expect(again.files[0]?.studyId).toBe('study-1');
  });

  it.each([
    [0, 'network'],
    [500, 'internal'],
    [502, 'http_502'],
    [503, 'deadline'],
    [401, 'unauthorized'],
    [408, 'timeout'],
    [409, 'idempotency_in_progress'],
    [429, 'rate_limited'],
  ])('no answer or a timing answer (%i) → queued again with backoff, the error kept', (status, code) => {
    const sending = startAttempt(entry(), T0);
    const e = attemptFailed(sending, { status, code, message: 'm' }, T0);
    expect(e.state).toBe('queued');
    expect(e.error).toEqual({ status, code, message: 'm' });
    expect(e.nextAttemptAt).toBe(T0 + backoffMs(1));
    expect(isDue(e, T0)).toBe(false);
    expect(isDue(e, T0 + backoffMs(1))).toBe(true);
  });

  it.each([400, 403, 404, 413, 422])('a refusal (%i) → failed with the server message, never retried', (status) => {
    const e = attemptFailed(startAttempt(entry(), T0), { status, code: 'invalid_input', message: 'patientId is unknown' }, T0);
    expect(e.state).toBe('failed');
    expect(e.error?.message).toBe('patientId is unknown');
    expect(isDue(e, T0 + 10 * BACKOFF_MAX_MS)).toBe(false);
    expect(dueNow(e, T0)).toBe(e);
    expect(() => startAttempt(e, T0)).toThrow(/failed/);
  });

  it('a sent entry is never sent again', () => {
    const sent = attemptSucceeded(fileUploaded(startAttempt(entry(), T0), 0, 's', T0), 'c', T0);
    expect(isDue(sent, T0 + 1e9)).toBe(false);
    expect(() => startAttempt(sent, T0)).toThrow(/sent/);
    expect(recoverInterrupted(sent, T0)).toBe(sent);
  });

  it('backoff doubles from 2 s up to 5 minutes', () => {
    expect([1, 2, 3, 4].map(backoffMs)).toEqual([2000, 4000, 8000, 16000]);
    expect(backoffMs(30)).toBe(BACKOFF_MAX_MS);
    expect(backoffMs(0)).toBe(2000);
  });

  it('an attempt cut off by a reload (left sending) is queued again, due now, keeping what was uploaded', () => {
    const cut = fileUploaded(startAttempt(entry(2), T0), 0, 'study-1', T0);
    const e = recoverInterrupted(cut, T0 + 60_000);
    expect(e.state).toBe('queued');
    expect(isDue(e, T0 + 60_000)).toBe(true);
    expect(e.files.map((f) => f.studyId)).toEqual(['study-1', undefined]);
  });

  it('the link back makes a backing-off entry due now', () => {
    const waiting = attemptFailed(startAttempt(entry(), T0), { status: 0, code: 'network', message: '' }, T0);
    expect(isDue(waiting, T0 + 1)).toBe(false);
    expect(isDue(dueNow(waiting, T0 + 1), T0 + 1)).toBe(true);
  });

  it('sent entries are pruned after a day; others never', () => {
    const sent = attemptSucceeded(fileUploaded(startAttempt(entry(), T0), 0, 's', T0), 'c', T0);
    expect(isPrunable(sent, T0 + SENT_KEPT_MS - 1)).toBe(false);
    expect(isPrunable(sent, T0 + SENT_KEPT_MS + 1)).toBe(true);
    expect(isPrunable(entry(), T0 + 10 * SENT_KEPT_MS)).toBe(false);
  });

  it('transitions from the wrong state throw', () => {
    expect(() => fileUploaded(entry(), 0, 's', T0)).toThrow(/queued/);
    expect(() => attemptSucceeded(entry(), 'c', T0)).toThrow(/queued/);
    expect(() => attemptFailed(entry(), { status: 0, code: 'network', message: '' }, T0)).toThrow(/queued/);
  });

  it('errors: fetch TypeError and timeouts have no answer (status 0); API errors keep status, code and message', () => {
    expect(toOutboxError(new TypeError('Failed to fetch'))).toEqual({ status: 0, code: 'network', message: 'Failed to fetch' });
    expect(toOutboxError(new DOMException('signal timed out', 'TimeoutError'))).toMatchObject({ status: 0, code: 'timeout' });
    expect(toOutboxError({ status: 422, code: 'invalid_input', message: 'bad' })).toEqual({ status: 422, code: 'invalid_input', message: 'bad' });
    expect(toOutboxError('boom')).toEqual({ status: 0, code: 'network', message: 'boom' });
    expect(isRetryable(0)).toBe(true);
    expect(isRetryable(400)).toBe(false);
  });
});

describe('consult-request outbox: signing out on a shared computer', () => {
  it("removes the doctor's sent entries at once and hands back their unsent ones; another doctor's entries are left alone", () => {
    const queued = entry();
    const sent = attemptSucceeded(startAttempt({ ...entry(), id: 'k-sent' }, T0), 'consult-1', T0 + 1);
    const refused = attemptFailed(startAttempt({ ...entry(), id: 'k-refused' }, T0), { status: 422, code: 'x', message: 'no' }, T0 + 1);
    const sending = startAttempt({ ...entry(), id: 'k-sending' }, T0);
    const othersSent = { ...sent, id: 'k-other', userId: 'u2' };
    const othersQueued = { ...queued, id: 'k-other-queued', userId: 'u2' };
    const { removeNow, unsent } = atSignOut([queued, sent, refused, sending, othersSent, othersQueued], 'u1');
    expect(removeNow).toEqual(['k-sent']);
    expect(unsent.map((e) => [e.id, e.state])).toEqual([
      ['consult-key-1', 'queued'],
      ['k-refused', 'failed'],
      ['k-sending', 'sending'],
    ]);
    expect(atSignOut([othersSent, othersQueued], 'u1')).toEqual({ removeNow: [], unsent: [] });
  });
});
