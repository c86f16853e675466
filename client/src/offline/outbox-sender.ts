/**
 * Sends the outbox's consult requests: the X-rays first (uploadStudy; a file uploaded once keeps its
 * study id and is not uploaded again), then POST /api/consults with the entry's id as the
 * Idempotency-Key on every attempt. One sender at a time across tabs (Web Locks where the browser
 * has them). The page drains the outbox itself — on start, when the `online` event fires, on a
 * timer, and when the service worker's Background Sync wakes it — so nothing depends on the
 * service worker being there.
 */
import type { ConsultView } from '../../../contracts/consult-api';
import type { ImagingStudyView } from '../../../contracts/imaging-api';
import type { ApiClient, UploadProgress } from '../api/client';
import { uploadStudy } from '../lib/imaging';
import {
  attemptFailed,
  attemptSucceeded,
  consultBody,
  dueNow,
  fileUploaded,
  isDue,
  isPrunable,
  newEntry,
  recoverInterrupted,
  startAttempt,
  toOutboxError,
  type OutboxConsultFields,
  type OutboxEntry,
} from './outbox-state';
import { allEntries, deleteEntry, getEntry, putEntry } from './outbox-store';

/** An upload with no progress for this long is given up (the link is gone though the browser has not noticed). */
const UPLOAD_STALL_MS = 30_000;
/** The consult POST's own limit (the server answers within its 30 s request deadline). */
const POST_TIMEOUT_MS = 35_000;
/** How often the page looks for entries whose backoff has run out. */
const TICK_MS = 5_000;
const LOCK = 'hoichan-outbox';
export const SYNC_TAG = 'hoichan-outbox';

class HttpRefusal extends Error {
  constructor(
    readonly status: number,
    readonly code: string,
    message: string,
  ) {
    super(message);
  }
}

let localChain: Promise<unknown> = Promise.resolve();
/** Runs `fn` as the only outbox sender (across tabs with Web Locks, else within this tab). */
function exclusive<T>(fn: () => Promise<T>): Promise<T> {
  // The lock is held until fn's promise settles; the lib types its result as Promise<Promise<T>>.
  if (typeof navigator !== 'undefined' && 'locks' in navigator) return navigator.locks.request(LOCK, fn).then((r) => r);
  const run = localChain.then(fn, fn);
  localChain = run.catch(() => undefined);
  return run;
}

/** A stable key for the request, visible ASCII as the server requires (randomUUID needs a secure context). */
function newKey(): string {
  if (typeof crypto.randomUUID === 'function') return `consult-${crypto.randomUUID()}`;
  const bytes = crypto.getRandomValues(new Uint8Array(16));
  return `consult-${Array.from(bytes, (b) => b.toString(16).padStart(2, '0')).join('')}`;
}

interface SyncCapable {
  readonly scope: string;
  sync?: { register(tag: string): Promise<void> };
}

/** Asks the service worker (where there is one and the browser has Background Sync) to wake the sender when the link returns. */
async function requestBackgroundSync(): Promise<void> {
  try {
    if (!('serviceWorker' in navigator)) return;
    // Background Sync is not in TypeScript's DOM library (Chromium has it, Firefox and Safari do not).
    const reg: SyncCapable | undefined = await navigator.serviceWorker.getRegistration();
    await reg?.sync?.register(SYNC_TAG);
  } catch {
    /* no Background Sync: the page's own triggers drain the outbox */
  }
}

export interface ConsultRequestInit {
  userId: string;
  consult: OutboxConsultFields;
  patientLabel: string;
  /** `studyId`: an X-ray already uploaded by an earlier, refused submit of the same form. */
  files: { file: Blob & { name?: string }; studyId?: string }[];
}

function entryFor(init: ConsultRequestInit): OutboxEntry {
  return newEntry(
    {
      id: newKey(),
      userId: init.userId,
      consult: init.consult,
      patientLabel: init.patientLabel,
      files: init.files.map(({ file, studyId }) => ({ name: file.name ?? 'xray', type: file.type, blob: file, ...(studyId ? { studyId } : {}) })),
    },
    Date.now(),
  );
}

/** Keeps the doctor's submitted request (form fields and X-rays) in the outbox, state 'queued'. */
export async function queueConsultRequest(init: ConsultRequestInit): Promise<OutboxEntry> {
  const entry = entryFor(init);
  await putEntry(entry);
  void requestBackgroundSync();
  return entry;
}

async function postConsult(api: ApiClient, entry: OutboxEntry): Promise<ConsultView> {
  const body = JSON.stringify(consultBody(entry));
  const send = () =>
    fetch('/api/consults', {
      method: 'POST',
      headers: {
        accept: 'application/json',
        'content-type': 'application/json',
        'idempotency-key': entry.id,
        ...(api.accessToken ? { authorization: `Bearer ${api.accessToken}` } : {}),
      },
      body,
      signal: AbortSignal.timeout(POST_TIMEOUT_MS),
    });
  let res = await send();
  if (res.status === 401 && (await api.refresh())) res = await send();
  const parsed = (await res.json().catch(() => null)) as { id?: unknown; error?: unknown; message?: unknown } | null;
  if (!res.ok)
    throw new HttpRefusal(
      res.status,
      typeof parsed?.error === 'string' ? parsed.error : `http_${res.status}`,
      typeof parsed?.message === 'string' ? parsed.message : res.statusText || `HTTP ${res.status}`,
    );
  if (typeof parsed?.id !== 'string') throw new HttpRefusal(502, 'bad_answer', 'The server answered without a consult id');
  return parsed as ConsultView;
}

/** Uploads with a watchdog: no progress for UPLOAD_STALL_MS (a dead link that the browser still calls up) aborts it. */
async function uploadWithWatchdog(api: ApiClient, file: File, patientId: string, onProgress: (p: UploadProgress) => void): Promise<ImagingStudyView> {
  const ctl = new AbortController();
  let timer = setTimeout(() => ctl.abort(), UPLOAD_STALL_MS);
  try {
    return await uploadStudy(
      api,
      file,
      patientId,
      (p) => {
        clearTimeout(timer);
        timer = setTimeout(() => ctl.abort(), UPLOAD_STALL_MS);
        onProgress(p);
      },
      undefined,
      ctl.signal,
    );
  } finally {
    clearTimeout(timer);
  }
}

export interface SendHooks {
  onProgress?: (p: UploadProgress) => void;
  onUploaded?: (index: number, study: ImagingStudyView) => void;
}

/** One attempt at a queued entry, each step saved with `save` (caller holds the lock); returns the entry as it ends. */
async function runAttempt(api: ApiClient, queued: OutboxEntry, hooks: SendHooks, save: (e: OutboxEntry) => Promise<void>): Promise<OutboxEntry> {
  let e = startAttempt(queued, Date.now());
  await save(e);
  try {
    for (const [i, f] of e.files.entries()) {
      if (f.studyId) continue;
      const file = new File([f.blob], f.name, { type: f.type });
      const study = await uploadWithWatchdog(api, file, e.consult.patientId, hooks.onProgress ?? (() => undefined));
      e = fileUploaded(e, i, study.id, Date.now());
      await save(e);
      hooks.onUploaded?.(i, study);
    }
    const created = await postConsult(api, e);
    e = attemptSucceeded(e, created.id, Date.now());
  } catch (err) {
    const error = toOutboxError(err);
    // A refused token: refresh it now so the next attempt carries a valid one.
    if (error.status === 401) await api.refresh();
    e = attemptFailed(e, error, Date.now());
  }
  await save(e);
  return e;
}

async function attempt(api: ApiClient, id: string, hooks: SendHooks): Promise<OutboxEntry | undefined> {
  const e = await getEntry(id);
  if (e?.state !== 'queued') return e;
  return runAttempt(api, e, hooks, putEntry);
}

/**
 * Where the browser keeps no IndexedDB (a locked-down profile): one attempt straight from the form,
 * nothing kept, as before the outbox. The caller reports anything but 'sent'.
 */
export function sendWithoutOutbox(api: ApiClient, init: ConsultRequestInit, hooks: SendHooks = {}): Promise<OutboxEntry> {
  return runAttempt(api, entryFor(init), hooks, () => Promise.resolve());
}

/** Sends this entry now (the form's submit): waits for any other sender, then one attempt. */
export function sendNow(api: ApiClient, id: string, hooks: SendHooks = {}): Promise<OutboxEntry | undefined> {
  return exclusive(() => attempt(api, id, hooks));
}

/** Every due entry of this doctor, one after the other; interrupted attempts are tried again. */
export function drainOutbox(api: ApiClient, userId: string, opts: { linkBack?: boolean } = {}): Promise<void> {
  return exclusive(async () => {
    const now = Date.now();
    for (const e of await allEntries()) {
      if (e.userId !== userId) continue;
      if (isPrunable(e, now)) {
        await deleteEntry(e.id);
        continue;
      }
      // Holding the lock, no one is sending: a 'sending' entry is one whose page went away mid-attempt.
      let fixed = recoverInterrupted(e, now);
      if (opts.linkBack) fixed = dueNow(fixed, now);
      if (fixed !== e) await putEntry(fixed);
    }
    for (const e of await allEntries()) {
      if (e.userId !== userId || !isDue(e, Date.now())) continue;
      // No session (signed out: sent after the next sign-in), or the browser knows it has no network (the `online` event will come).
      if (!api.hasSession || !navigator.onLine) return;
      await attempt(api, e.id, {});
    }
  });
}

/**
 * Starts the page's sender for the signed-in doctor: drains now, on `online`, every TICK_MS (only
 * what is due after its backoff), and when the service worker says Background Sync fired.
 */
export function startOutboxSender(api: ApiClient, userId: string): () => void {
  let draining = false;
  /** The link came back during a drain: drain again after it, with the backoffs cut short. */
  let linkBackPending = false;
  const drain = (linkBack = false) => {
    if (draining) {
      linkBackPending ||= linkBack;
      return;
    }
    draining = true;
    drainOutbox(api, userId, { linkBack })
      .catch(() => undefined)
      .finally(() => {
        draining = false;
        if (linkBackPending) {
          linkBackPending = false;
          drain(true);
        }
      });
  };
  const onOnline = () => drain(true);
  const onMessage = (ev: MessageEvent) => {
    if ((ev.data as { type?: unknown } | null)?.type === 'hoichan-outbox-drain') drain(true);
  };
  const sw = 'serviceWorker' in navigator ? navigator.serviceWorker : null;
  window.addEventListener('online', onOnline);
  sw?.addEventListener('message', onMessage);
  const timer = setInterval(() => drain(), TICK_MS);
  drain(true);
  return () => {
    window.removeEventListener('online', onOnline);
    sw?.removeEventListener('message', onMessage);
    clearInterval(timer);
  };
}
