/**
 * The outbox's IndexedDB store: one object store of OutboxEntry (X-rays as Blobs inside), keyed by
 * the entry id. Survives reloads and a closed browser; other tabs hear of changes through a
 * BroadcastChannel.
 */
import type { OutboxEntry } from './outbox-state';

const DB_NAME = 'hoichan-outbox';
const STORE = 'consult-requests';
const CHANNEL = 'hoichan-outbox';

let dbPromise: Promise<IDBDatabase> | null = null;

function openDb(): Promise<IDBDatabase> {
  dbPromise ??= new Promise<IDBDatabase>((resolve, reject) => {
    const req = indexedDB.open(DB_NAME, 1);
    req.onupgradeneeded = () => {
      req.result.createObjectStore(STORE, { keyPath: 'id' });
    };
    req.onsuccess = () => resolve(req.result);
    req.onerror = () => reject(req.error ?? new Error('IndexedDB unavailable'));
  }).catch((err: unknown) => {
    dbPromise = null;
    throw err;
  });
  return dbPromise;
}

async function tx<T>(mode: IDBTransactionMode, run: (store: IDBObjectStore) => IDBRequest<T>): Promise<T> {
  const db = await openDb();
  return new Promise<T>((resolve, reject) => {
    const t = db.transaction(STORE, mode);
    const req = run(t.objectStore(STORE));
    // Resolve once the transaction is durable, not when the request succeeds.
    t.oncomplete = () => resolve(req.result);
    t.onerror = () => reject(t.error ?? req.error ?? new Error('IndexedDB transaction failed'));
    t.onabort = () => reject(t.error ?? new Error('IndexedDB transaction aborted'));
  });
}

const listeners = new Set<() => void>();
let channel: BroadcastChannel | null = null;

function notifyLocal(): void {
  for (const l of listeners) l();
}

/** Called after any change to the outbox, in this tab or another. */
export function onOutboxChange(listener: () => void): () => void {
  if (!channel && typeof BroadcastChannel !== 'undefined') {
    channel = new BroadcastChannel(CHANNEL);
    channel.onmessage = notifyLocal;
  }
  listeners.add(listener);
  return () => listeners.delete(listener);
}

function changed(): void {
  notifyLocal();
  channel?.postMessage('changed');
}

export async function allEntries(): Promise<OutboxEntry[]> {
  const list = await tx<OutboxEntry[]>('readonly', (s) => s.getAll() as IDBRequest<OutboxEntry[]>);
  return list.sort((a, b) => a.createdAt - b.createdAt);
}

export async function getEntry(id: string): Promise<OutboxEntry | undefined> {
  return tx<OutboxEntry | undefined>('readonly', (s) => s.get(id) as IDBRequest<OutboxEntry | undefined>);
}

export async function putEntry(e: OutboxEntry): Promise<void> {
  await tx('readwrite', (s) => s.put(e));
  changed();
}

export async function deleteEntry(id: string): Promise<void> {
  await tx('readwrite', (s) => s.delete(id));
  changed();
}
