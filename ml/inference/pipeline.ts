/**
 * One image through the whole triage pipeline: decode → preprocess → every model →
 * boxes, flags and the heatmaps as compact grids (the overlay PNGs are rendered when first read).
 * Runs inside a triage worker.
 */
import { performance } from 'node:perf_hooks';
import { decodeImage, type DecodedImage, type DecodeLimits } from '../decode';
import { quantiseHeatmap, type HeatmapGrid } from './heatmap-png';
import { runModel, type ModelOutput, type ModelSession } from './models';
import { boxToImage, extractBoxes, isFlagged, type Finding, type Lesion } from './postprocess';
import { InputGateError } from './errors';
import { decideGate, gateByTags, NOT_FRONTAL_CHEST, type GateDecision, type GateModel } from './input-gate';
import { preprocess } from './preprocess';

/** The gate: tags, then the pixel model; without a pixel model only the tags can refuse an image. */
function gateImage(model: GateModel | null, plane: Float32Array, dicom: DecodedImage['dicom']): GateDecision {
  if (model) return decideGate(model, plane, dicom);
  const tags = gateByTags(dicom);
  if (tags.verdict === 'not-chest') return { scored: false, by: 'dicom-tags', reason: `${NOT_FRONTAL_CHEST} (${tags.reason})`, chestProbability: Number.NaN };
  return { scored: true, by: 'dicom-tags', reason: `${tags.reason}; no pixel check installed`, chestProbability: Number.NaN };
}
import type { FindingScore, RawModelOutput, WorkerAnalysis } from './worker-protocol';

export interface PipelineOptions {
  readonly inputName: string;
  /** Also return each model's score and heatmap as onnxruntime produced them. */
  readonly includeRaw?: boolean;
  readonly decodeLimits?: Partial<DecodeLimits>;
  /** Input gate pixel model (null: DICOM tags only). */
  readonly gate?: GateModel | null;
}

export async function analyseImage(models: readonly ModelSession[], image: Uint8Array, options: PipelineOptions): Promise<WorkerAnalysis> {
  const t0 = performance.now();
  const decoded = await decodeImage(image, options.decodeLimits);
  const t1 = performance.now();
  const plane = preprocess(decoded);
  const gate = gateImage(options.gate ?? null, plane, decoded.dicom);
  if (!gate.scored) throw new InputGateError(gate, { width: decoded.width, height: decoded.height, format: decoded.format });
  const t2 = performance.now();
  const outputs: { model: ModelSession; output: ModelOutput }[] = [];
  for (const model of models) outputs.push({ model, output: await runModel(model, plane, options.inputName) });
  const t3 = performance.now();

  const { width, height } = decoded;
  const scores = {} as Record<Finding, FindingScore>;
  const heatmaps = {} as Record<Finding, HeatmapGrid>;
  const lesions: Lesion[] = [];
  const raw = {} as Record<Finding, RawModelOutput>;
  for (const { model, output } of outputs) {
    const { finding, thresholds, heatmapStride, calibration } = model.entry;
    raw[finding] = output;
    const score = calibration ? calibrated(output.score, calibration) : output.score;
    const flagAt = calibration ? calibration.flag : thresholds.flag;
    scores[finding] = { score, flagged: isFlagged(score, flagAt), threshold: flagAt, calibrated: calibration !== undefined };
    for (const box of extractBoxes(output.heatmap, { threshold: thresholds.box, grid: output.grid, stride: heatmapStride })) {
      lesions.push({ finding, ...boxToImage(box, width, height) });
    }
    heatmaps[finding] = quantiseHeatmap(output.heatmap, output.grid);
  }
  const t4 = performance.now();

  return {
    gate,
    image: { width, height, format: decoded.format },
    scores,
    lesions,
    heatmaps,
    timings: { decodeMs: t1 - t0, preprocessMs: t2 - t1, inferenceMs: t3 - t2, postprocessMs: t4 - t3 },
    ...(options.includeRaw ? { raw } : {}),
  };
}

/** Platt scaling of a raw model score: σ(a · logit(raw) + b). */
export function calibrated(raw: number, c: { readonly a: number; readonly b: number }): number {
  const q = Math.min(1 - 1e-6, Math.max(1e-6, raw));
  return 1 / (1 + Math.exp(-(c.a * Math.log(q / (1 - q)) + c.b)));
}
