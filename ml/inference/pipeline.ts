/**
 * One image through the whole triage pipeline: decode → preprocess → every model →
 * boxes, flags and heatmap overlays. Runs inside a triage worker.
 */
import { performance } from 'node:perf_hooks';
import { decodeImage, type DecodeLimits } from '../decode';
import { overlaySize, renderHeatmapPng } from './heatmap-png';
import { runModel, type ModelOutput, type ModelSession } from './models';
import { boxToImage, extractBoxes, isFlagged, type Finding, type Lesion } from './postprocess';
import { preprocess } from './preprocess';
import type { FindingScore, RawModelOutput, WorkerAnalysis } from './worker-protocol';

export interface PipelineOptions {
  readonly inputName: string;
  readonly overlayMaxSide: number;
  /** Also return each model's score and heatmap as onnxruntime produced them. */
  readonly includeRaw?: boolean;
  readonly decodeLimits?: Partial<DecodeLimits>;
}

export async function analyseImage(models: readonly ModelSession[], image: Uint8Array, options: PipelineOptions): Promise<WorkerAnalysis> {
  const t0 = performance.now();
  const decoded = await decodeImage(image, options.decodeLimits);
  const t1 = performance.now();
  const plane = preprocess(decoded);
  const t2 = performance.now();
  const outputs: { model: ModelSession; output: ModelOutput }[] = [];
  for (const model of models) outputs.push({ model, output: await runModel(model, plane, options.inputName) });
  const t3 = performance.now();

  const { width, height } = decoded;
  const size = overlaySize(width, height, options.overlayMaxSide);
  const scores = {} as Record<Finding, FindingScore>;
  const heatmaps = {} as Record<Finding, Uint8Array>;
  const lesions: Lesion[] = [];
  const raw = {} as Record<Finding, RawModelOutput>;
  for (const { model, output } of outputs) {
    const { finding, thresholds, heatmapStride } = model.entry;
    raw[finding] = output;
    scores[finding] = { score: output.score, flagged: isFlagged(output.score, thresholds.flag) };
    for (const box of extractBoxes(output.heatmap, { threshold: thresholds.box, grid: output.grid, stride: heatmapStride })) {
      lesions.push({ finding, ...boxToImage(box, width, height) });
    }
    heatmaps[finding] = renderHeatmapPng(output.heatmap, { grid: output.grid, size });
  }
  const t4 = performance.now();

  return {
    image: { width, height, format: decoded.format },
    scores,
    lesions,
    heatmaps,
    timings: { decodeMs: t1 - t0, preprocessMs: t2 - t1, inferenceMs: t3 - t2, postprocessMs: t4 - t3 },
    ...(options.includeRaw ? { raw } : {}),
  };
}
