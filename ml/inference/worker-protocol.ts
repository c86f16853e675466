/** Messages between TriageEngine (main thread) and triage-worker (worker thread). */
import type { DecodeLimits } from '../decode';
import type { HeatmapGrid } from './heatmap-png';
import type { GateDecision, GateModel } from './input-gate';
import type { ManifestModel } from './manifest';
import type { ModelOutput } from './models';
import type { Finding, Lesion } from './postprocess';

export interface WorkerInit {
  readonly models: readonly { readonly entry: ManifestModel; readonly bytes: Uint8Array }[];
  readonly inputName: string;
  /** ORT intra-op threads per session (1 unless the worker has cores to itself). */
  readonly intraOpThreads: number;
  readonly decodeLimits?: Partial<DecodeLimits>;
  /** Input gate pixel model; null: DICOM tags only. */
  readonly gate: GateModel | null;
}

export interface SerializedError {
  readonly name: string;
  readonly message: string;
  readonly code?: string;
  readonly stack?: string;
  /** InputGateError only. */
  readonly gate?: GateDecision;
  readonly image?: { readonly width: number; readonly height: number; readonly format: string };
}

export interface FindingScore {
  readonly score: number;
  readonly flagged: boolean;
  /** The flag threshold the score was compared with (score ≥ threshold → flagged). */
  readonly threshold: number;
  /** true: `score` is a calibrated probability (manifest calibration); false: the model's raw score. */
  readonly calibrated?: boolean;
}

export interface TriageTimings {
  readonly decodeMs: number;
  readonly preprocessMs: number;
  readonly inferenceMs: number;
  /** Boxes, flags and the compact heatmap grids (the overlay PNGs are rendered when first read). */
  readonly postprocessMs: number;
}

/** A model's outputs as onnxruntime returned them (for parity checks and evaluation). */
export type RawModelOutput = ModelOutput;

export interface WorkerAnalysis {
  /** The input gate's decision (always scored: true here; a refused image comes back as an InputGateError). */
  readonly gate: GateDecision;
  readonly image: { readonly width: number; readonly height: number; readonly format: string };
  readonly scores: Record<Finding, FindingScore>;
  readonly lesions: readonly Lesion[];
  readonly heatmaps: Record<Finding, HeatmapGrid>;
  readonly timings: TriageTimings;
  readonly raw?: Record<Finding, RawModelOutput>;
}

export type ToWorker = { readonly type: 'analyse'; readonly id: number; readonly image: Uint8Array; readonly includeRaw: boolean };

export type FromWorker =
  | { readonly type: 'ready' }
  | { readonly type: 'init-error'; readonly error: SerializedError }
  | { readonly type: 'result'; readonly id: number; readonly analysis: WorkerAnalysis }
  | { readonly type: 'error'; readonly id: number; readonly error: SerializedError };

export function serializeError(err: unknown): SerializedError {
  if (err instanceof Error) {
    const code = (err as { code?: unknown }).code;
    const gate = (err as { decision?: GateDecision }).decision;
    const image = (err as { image?: { width: number; height: number; format: string } }).image;
    return {
      name: err.name,
      message: err.message,
      ...(gate ? { gate } : {}),
      ...(image ? { image } : {}),
      ...(typeof code === 'string' || typeof code === 'number' ? { code: String(code) } : {}),
      ...(err.stack ? { stack: err.stack } : {}),
    };
  }
  return { name: 'Error', message: String(err) };
}
