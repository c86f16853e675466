/**
 * TriageEngine: a small pool of worker threads, each holding one ONNX session per model,
 * fed from a bounded FIFO queue. Decode, preprocessing, inference and postprocessing all run
 * in the workers, so the caller's event loop only copies bytes in and results out.
 */
import { existsSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import type { Worker } from 'node:worker_threads';
import { ImageDecodeError, type DecodeLimits } from '../decode';
import { InputGateError, TriageBusyError, TriageClosedError, TriageInferenceError, TriageWorkerError } from './errors';
import type { GateDecision } from './input-gate';
import type { HeatmapGrid } from './heatmap-png';
import { loadManifest, MANIFEST_FILE, type LoadedManifest } from './manifest';
import { DEFAULT_INPUT_NAME } from './models';
import { spawnWorker } from './spawn-worker';
import type { Finding, Lesion } from './postprocess';
import type { FindingScore, FromWorker, RawModelOutput, SerializedError, ToWorker, TriageTimings, WorkerAnalysis, WorkerInit } from './worker-protocol';

export type { FindingScore, RawModelOutput, TriageTimings } from './worker-protocol';
export type { Finding, Lesion } from './postprocess';
export type { HeatmapGrid } from './heatmap-png';

export const MODEL_SET_NAME = 'hoichan-cxr';
export const DEFAULT_MAX_QUEUE = 32;
/** Models this small gain little from more than a few threads per convolution. */
const MAX_DEFAULT_INTRA_OP = 4;

export interface TriageEngineOptions {
  /** Folder holding manifest.json and the ONNX files; default: the repository's ml/weights. */
  readonly weightsDir?: string;
  /** Worker threads; default min(2, available cores). */
  readonly threads?: number;
  /**
   * ORT intra-op threads per model session; default: the cores left to each worker,
   * min(4, max(1, floor(cores / threads))), so one worker on 2 cores splits each model over both and
   * 2 workers never start more threads than there are cores.
   */
  readonly intraOpThreads?: number;
  /** Jobs allowed to wait for a worker; one more makes `analyse` reject with TriageBusyError. */
  readonly maxQueue?: number;
  /** Input size limits for ml/decode (bytes, pixels, side); its defaults otherwise. */
  readonly decodeLimits?: Partial<DecodeLimits>;
}

export interface AnalyseOptions {
  /**
   * Move the caller's ArrayBuffer to the worker instead of copying it. Only honoured when the
   * view spans its whole, non-shared buffer; the caller's view is detached (length 0) afterwards.
   */
  readonly transfer?: boolean;
  /** Also return each model's raw score and heatmap (`TriageResult.raw`), e.g. for parity checks. */
  readonly includeRawOutputs?: boolean;
}

export interface ModelIdentity {
  readonly name: string;
  readonly version: string;
  readonly sha256: string;
}

export interface TriageModelInfo extends ModelIdentity {
  readonly models: readonly ModelIdentity[];
}

export interface TriageResult {
  /** name 'hoichan-cxr', the manifest's version and the sha256 of manifest.json. */
  readonly model: TriageModelInfo;
  readonly image: { readonly width: number; readonly height: number; readonly format: string };
  /** Why the image was scored (DICOM tags or the pixel check). Images the gate refuses reject with InputGateError. */
  readonly gate: GateDecision;
  readonly tb: FindingScore;
  readonly nodule: FindingScore;
  /** Boxes in the original image's pixels, per finding sorted by score. */
  readonly lesions: readonly Lesion[];
  /** Each model's heatmap as round(p · 255) cells; renderOverlayPng makes the viewer's PNG when it is first asked for. */
  readonly heatmaps: Readonly<Record<Finding, HeatmapGrid>>;
  readonly timings: TriageTimings;
  /** Only with `includeRawOutputs`. */
  readonly raw?: Readonly<Record<Finding, RawModelOutput>>;
}

interface Job {
  readonly id: number;
  readonly image: Uint8Array;
  readonly includeRaw: boolean;
  readonly resolve: (result: TriageResult) => void;
  readonly reject: (err: Error) => void;
}

interface Slot {
  worker: Worker;
  ready: boolean;
  job: Job | undefined;
  lastError: Error | undefined;
  /** Respawns since the last successful start; bounded so a broken model cannot spin forever. */
  failedStarts: number;
}

const MAX_FAILED_STARTS = 3;

export class TriageEngine {
  readonly model: TriageModelInfo;
  readonly threads: number;
  readonly intraOpThreads: number;
  readonly maxQueue: number;

  private readonly queue: Job[] = [];
  private readonly slots: Slot[] = [];
  private readonly init: WorkerInit;
  private nextJobId = 1;
  private closed = false;

  private constructor(loaded: LoadedManifest, threads: number, intraOpThreads: number, maxQueue: number, decodeLimits: Partial<DecodeLimits> | undefined) {
    this.threads = threads;
    this.intraOpThreads = intraOpThreads;
    this.maxQueue = maxQueue;
    this.model = {
      name: MODEL_SET_NAME,
      version: loaded.version,
      sha256: loaded.manifestSha256,
      models: loaded.models.map(({ entry }) => ({ name: entry.name, version: entry.version, sha256: entry.sha256.toLowerCase() })),
    };
    this.init = {
      models: loaded.models.map(({ entry, bytes }) => ({ entry, bytes })),
      inputName: loaded.manifest.input.name ?? DEFAULT_INPUT_NAME,
      intraOpThreads,
      decodeLimits,
      gate: loaded.gate,
    };
  }

  /** Loads and verifies the manifest (sha256 of every model) and starts the workers. */
  static async create(options: TriageEngineOptions = {}): Promise<TriageEngine> {
    const threads = options.threads ?? Math.min(2, os.availableParallelism());
    const maxQueue = options.maxQueue ?? DEFAULT_MAX_QUEUE;
    const intraOpThreads = options.intraOpThreads ?? Math.min(MAX_DEFAULT_INTRA_OP, Math.max(1, Math.floor(os.availableParallelism() / threads)));
    if (!Number.isInteger(threads) || threads < 1) throw new RangeError(`threads must be a positive integer, got ${threads}`);
    if (!Number.isInteger(intraOpThreads) || intraOpThreads < 1) throw new RangeError(`intraOpThreads must be a positive integer, got ${intraOpThreads}`);
    if (!Number.isInteger(maxQueue) || maxQueue < 0) throw new RangeError(`maxQueue must be a non-negative integer, got ${maxQueue}`);

    const loaded = await loadManifest(options.weightsDir ?? defaultWeightsDir());
    const engine = new TriageEngine(loaded, threads, intraOpThreads, maxQueue, options.decodeLimits);
    try {
      await Promise.all(Array.from({ length: threads }, () => engine.startSlot()));
    } catch (err) {
      await engine.close();
      throw err;
    }
    return engine;
  }

  /** Workers started and able to take a job (0 after close()). */
  get liveWorkers(): number {
    return this.slots.filter((s) => s.ready).length;
  }

  /** Jobs waiting for a worker (not counting those running). */
  get queueLength(): number {
    return this.queue.length;
  }

  /**
   * Analyses one encoded image (PNG, JPEG or DICOM). Rejects with ImageDecodeError for bad input and
   * with InputGateError for an image that is not a frontal chest X-ray (not scored).
   */
  analyse(image: Uint8Array, options: AnalyseOptions = {}): Promise<TriageResult> {
    if (this.closed) return Promise.reject(new TriageClosedError());
    if (this.slots.length === 0) return Promise.reject(new TriageWorkerError('no triage worker is running'));
    const idle = this.slots.some((s) => s.ready && !s.job);
    if (!idle && this.queue.length >= this.maxQueue) {
      return Promise.reject(new TriageBusyError(this.queue.length, this.maxQueue));
    }
    const owned = options.transfer && isWholeTransferableView(image) ? image : new Uint8Array(image);
    return new Promise<TriageResult>((resolve, reject) => {
      this.queue.push({ id: this.nextJobId++, image: owned, includeRaw: options.includeRawOutputs === true, resolve, reject });
      this.dispatch();
    });
  }

  /** Rejects waiting and running jobs with TriageClosedError and terminates the workers. */
  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    for (const job of this.queue.splice(0)) job.reject(new TriageClosedError());
    await Promise.all(
      this.slots.map(async (slot) => {
        slot.job?.reject(new TriageClosedError('triage engine closed while the job was running'));
        slot.job = undefined;
        await slot.worker.terminate();
      }),
    );
  }

  /** Test hook: kills one worker (a busy one first) as a crash would, to exercise reject + respawn. */
  simulateWorkerCrash(): void {
    const slot = this.slots.find((s) => s.job) ?? this.slots[0];
    void slot?.worker.terminate();
  }

  private startSlot(existing?: Slot): Promise<void> {
    const worker = spawnTriageWorker(this.init);
    const slot: Slot = existing ?? { worker, ready: false, job: undefined, lastError: undefined, failedStarts: 0 };
    slot.worker = worker;
    slot.ready = false;
    slot.lastError = undefined;
    if (!existing) this.slots.push(slot);

    return new Promise<void>((resolve, reject) => {
      let started = false;
      worker.on('message', (message: FromWorker) => {
        switch (message.type) {
          case 'ready':
            started = true;
            slot.ready = true;
            slot.failedStarts = 0;
            // An idle worker must not keep the process alive (a forgotten close() would hang exit);
            // dispatch() refs it again for the duration of each job.
            worker.unref();
            resolve();
            this.dispatch();
            break;
          case 'init-error':
            reject(new TriageWorkerError(`triage worker could not load the models: ${message.error.message}`));
            void worker.terminate();
            break;
          case 'result':
          case 'error':
            this.settle(slot, message);
            break;
        }
      });
      worker.on('error', (err: Error) => {
        slot.lastError = err;
      });
      worker.on('exit', (code) => {
        if (slot.worker !== worker) return;
        slot.ready = false;
        const reason = slot.lastError ? `: ${slot.lastError.message}` : '';
        if (!started) reject(new TriageWorkerError(`triage worker exited during start-up (code ${code})${reason}`));
        if (this.closed) return;
        const job = slot.job;
        slot.job = undefined;
        job?.reject(new TriageWorkerError(`triage worker exited with code ${code} while analysing the image${reason}`));
        if (started) this.respawn(slot);
      });
    });
  }

  private respawn(slot: Slot): void {
    if (this.closed) return;
    slot.failedStarts++;
    if (slot.failedStarts > MAX_FAILED_STARTS) {
      this.slots.splice(this.slots.indexOf(slot), 1);
      if (this.slots.length === 0) this.failQueued(new TriageWorkerError('all triage workers failed to restart'));
      return;
    }
    this.startSlot(slot).catch((err: unknown) => {
      slot.lastError = err as Error;
      this.respawn(slot);
    });
  }

  private failQueued(err: Error): void {
    for (const job of this.queue.splice(0)) job.reject(err);
  }

  private dispatch(): void {
    for (const slot of this.slots) {
      if (this.queue.length === 0) return;
      if (!slot.ready || slot.job) continue;
      const job = this.queue.shift();
      if (!job) return;
      slot.job = job;
      slot.worker.ref();
      const message: ToWorker = { type: 'analyse', id: job.id, image: job.image, includeRaw: job.includeRaw };
      try {
        slot.worker.postMessage(message, [job.image.buffer as ArrayBuffer]);
      } catch {
        // Untransferable memory (e.g. a pooled Buffer passed with `transfer`): send a copy instead.
        slot.worker.postMessage({ ...message, image: new Uint8Array(job.image) });
      }
    }
  }

  private settle(slot: Slot, message: Extract<FromWorker, { type: 'result' | 'error' }>): void {
    const job = slot.job;
    if (!job || job.id !== message.id) return;
    slot.job = undefined;
    slot.worker.unref();
    if (message.type === 'result') job.resolve(this.toResult(message.analysis));
    else job.reject(reviveError(message.error));
    this.dispatch();
  }

  private toResult(analysis: WorkerAnalysis): TriageResult {
    return {
      model: this.model,
      gate: analysis.gate,
      image: analysis.image,
      tb: analysis.scores.tb,
      nodule: analysis.scores.nodule,
      lesions: analysis.lesions,
      heatmaps: analysis.heatmaps,
      timings: analysis.timings,
      ...(analysis.raw ? { raw: analysis.raw } : {}),
    };
  }
}

/** The pool's worker: compiled triage-worker.js, or triage-worker.ts from sources (see spawn-worker.ts). */
export function spawnTriageWorker(init: WorkerInit): Worker {
  return spawnWorker(__dirname, 'triage-worker', { workerData: init });
}

/** The repository's ml/weights, from ml/inference/ (sources) or dist/ml/inference/ (compiled). */
export function defaultWeightsDir(): string {
  const candidates: [string, string] = [path.resolve(__dirname, '..', 'weights'), path.resolve(__dirname, '..', '..', '..', 'ml', 'weights')];
  return candidates.find((dir) => existsSync(path.join(dir, MANIFEST_FILE))) ?? candidates[0];
}

function isWholeTransferableView(view: Uint8Array): boolean {
  // Not `instanceof ArrayBuffer`: Buffers from node:fs come from another realm under jest.
  return Object.prototype.toString.call(view.buffer) === '[object ArrayBuffer]' && view.byteOffset === 0 && view.byteLength === view.buffer.byteLength;
}

type DecodeErrorCode = ConstructorParameters<typeof ImageDecodeError>[0];

/** Rebuilds an error thrown in the worker; ImageDecodeError keeps its class and code. */
function reviveError(serialized: SerializedError): Error {
  const err =
    serialized.name === 'ImageDecodeError' && serialized.code
      ? new ImageDecodeError(serialized.code as DecodeErrorCode, serialized.message)
      : serialized.name === 'InputGateError' && serialized.gate
        ? new InputGateError(serialized.gate, serialized.image)
        : new TriageInferenceError(serialized.message, serialized.name);
  if (serialized.stack) err.stack = serialized.stack;
  return err;
}
