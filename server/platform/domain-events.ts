import { EventEmitter } from 'node:events';
import type { FlaggedFinding } from '../../contracts/triage-priority';

/**
 * In-process domain events between features (never patient data beyond ids). Features publish
 * what happened; others react (e.g. a record change is pushed to every consult room of the patient).
 */
export interface DomainEventMap {
  /** A resource of a patient's record was created, updated or deleted. */
  'record.changed': { patientId: string; resourceType: string; resourceId: string; change: 'created' | 'updated' | 'deleted'; byUserId?: string };
  /** An imaging study was stored for a patient. */
  'imaging.stored': { patientId: string; studyId: string; byUserId: string };
  /** Triage progress for a study (queued, running, done, failed). */
  'triage.progress': { patientId: string; studyId: string; state: 'queued' | 'running' | 'done' | 'failed'; message?: string };
  /** Triage finished for a study. */
  'triage.completed': {
    patientId: string;
    studyId: string;
    tbFlagged: boolean;
    noduleFlagged: boolean;
    /** The study's triage priority (contracts/triage-priority.ts). */
    maxScore: number;
    /** The finding a flag badge names, its score and threshold; null when nothing is flagged. */
    flag: FlaggedFinding | null;
  };
  /** A consult reached a terminal state (closed, declined, cancelled, expired): its call ends, its admissions with it. */
  'consult.ended': { consultId: string; status: string };
  /** A radiologist confirmed or rejected a triage flag. */
  'triage.reviewed': { patientId: string; studyId: string; byUserId: string };
}

export class DomainEvents {
  readonly #emitter = new EventEmitter({ captureRejections: false });

  constructor() {
    this.#emitter.setMaxListeners(100);
  }

  emit<K extends keyof DomainEventMap>(name: K, payload: DomainEventMap[K]): void {
    // Listeners must not break the publisher: errors are reported, not thrown.
    for (const listener of this.#emitter.listeners(name)) {
      try {
        const r = (listener as (p: DomainEventMap[K]) => unknown)(payload);
        if (r instanceof Promise) r.catch((err: unknown) => this.#emitter.emit('error', err));
      } catch (err) {
        this.#emitter.emit('error', err);
      }
    }
  }

  on<K extends keyof DomainEventMap>(name: K, listener: (payload: DomainEventMap[K]) => void | Promise<void>): () => void {
    // eslint-disable-next-line @typescript-eslint/no-misused-promises -- emit() above calls listeners itself and catches rejected promises
    this.#emitter.on(name, listener);
    // eslint-disable-next-line @typescript-eslint/no-misused-promises -- emit() above calls listeners itself and catches rejected promises
    return () => this.#emitter.off(name, listener);
  }

  onError(handler: (err: unknown) => void): void {
    this.#emitter.on('error', handler);
  }
}
