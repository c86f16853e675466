/**
 * A small pool of preview workers (decode + 8-bit PNG; heatmap overlay PNGs on their first read),
 * started like the triage workers through ml/inference/spawn-worker.ts: the compiled .js from
 * dist/, else the TypeScript sources (jest).
 */
import type { Worker } from 'node:worker_threads';
import { ImageDecodeError, type ImageDecodeErrorCode } from '../../ml/decode';
import { spawnWorker } from '../../ml/inference/spawn-worker';
import { ServiceUnavailableError } from '../platform/errors';
import type { DecodedImageSummary, PoolRequest, PreviewReply } from './preview-protocol';
import { PREVIEW_MAX_SIDE } from './preview-render';

export type { DecodedImageSummary } from './preview-protocol';

type Answer = Extract<PreviewReply, { type: 'result' | 'overlay' }>;

interface Job {
  request: PoolRequest;
  resolve: (answer: Answer) => void;
  reject: (e: Error) => void;
}

interface Slot {
  worker: Worker;
  ready: boolean;
  job?: Job;
}

export class PreviewPool {
  readonly #slots: Slot[] = [];
  readonly #queue: Job[] = [];
  #nextId = 1;
  #closed = false;

  constructor(
    private readonly size = 1,
    private readonly maxQueue = 16,
  ) {}

  async render(image: Uint8Array): Promise<DecodedImageSummary> {
    const answer = await this.#submit({ kind: 'preview', id: this.#nextId++, image: new Uint8Array(image), maxSide: PREVIEW_MAX_SIDE });
    if (answer.type !== 'result') throw new Error('preview worker answered a preview with an overlay');
    return answer.summary;
  }

  /** The overlay PNG of a stored heatmap grid for an image of width × height (≈ 4 ms of pixel work: kept off the event loop). */
  async renderOverlay(cells: Uint8Array, width: number, height: number): Promise<Uint8Array> {
    const answer = await this.#submit({ kind: 'overlay', id: this.#nextId++, cells: new Uint8Array(cells), width, height });
    if (answer.type !== 'overlay') throw new Error('preview worker answered an overlay with a preview');
    return answer.png;
  }

  #submit(request: PoolRequest): Promise<Answer> {
    if (this.#closed) return Promise.reject(new ServiceUnavailableError('imaging service is shutting down'));
    if (this.#queue.length >= this.maxQueue) return Promise.reject(new ServiceUnavailableError('Too many images are being processed; retry in a minute'));
    // Workers start on first use, so a platform that never receives an image never starts one.
    while (this.#slots.length < this.size) this.#slots.push(this.#spawn());
    return new Promise((resolve, reject) => {
      this.#queue.push({ request, resolve, reject });
      this.#dispatch();
    });
  }

  async close(): Promise<void> {
    this.#closed = true;
    for (const job of this.#queue.splice(0)) job.reject(new ServiceUnavailableError('imaging service is shutting down'));
    await Promise.all(
      this.#slots.map(async (s) => {
        s.job?.reject(new ServiceUnavailableError('imaging service is shutting down'));
        s.job = undefined;
        await s.worker.terminate();
      }),
    );
  }

  #spawn(): Slot {
    const worker = spawnPreviewWorker();
    const slot: Slot = { worker, ready: false };
    worker.on('message', (msg: PreviewReply) => {
      if (msg.type === 'ready') {
        slot.ready = true;
        this.#dispatch();
        return;
      }
      const job = slot.job;
      if (!job || job.request.id !== msg.id) return;
      slot.job = undefined;
      if (msg.type === 'result' || msg.type === 'overlay') job.resolve(msg);
      else
        job.reject(
          msg.error.name === 'ImageDecodeError' && msg.error.code
            ? new ImageDecodeError(msg.error.code as ImageDecodeErrorCode, msg.error.message)
            : new Error(msg.error.message),
        );
      this.#dispatch();
    });
    worker.on('error', () => undefined); // 'exit' follows
    worker.on('exit', (code) => {
      if (this.#closed) return;
      const job = slot.job;
      slot.job = undefined;
      // A crash while decoding (e.g. out of memory in a codec) means the file could not be decoded.
      if (job?.request.kind === 'preview') job.reject(new ImageDecodeError('corrupt', `the image could not be decoded (decoder stopped with code ${code})`));
      else job?.reject(new Error(`the preview worker stopped with code ${code} while rendering a heatmap overlay`));
      const i = this.#slots.indexOf(slot);
      if (i >= 0) this.#slots[i] = this.#spawn();
    });
    return slot;
  }

  #dispatch(): void {
    for (const slot of this.#slots) {
      if (!this.#queue.length) return;
      if (!slot.ready || slot.job) continue;
      const job = this.#queue.shift();
      if (!job) return;
      slot.job = job;
      const bytes = job.request.kind === 'preview' ? job.request.image : job.request.cells;
      slot.worker.postMessage(job.request, [bytes.buffer as ArrayBuffer]);
    }
  }
}

function spawnPreviewWorker(): Worker {
  return spawnWorker(__dirname, 'preview-worker', { resourceLimits: { maxOldGenerationSizeMb: 1024 } });
}
