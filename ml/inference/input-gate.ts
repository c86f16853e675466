/* eslint-disable @typescript-eslint/no-non-null-assertion -- numeric kernel: every index is bounded by its loop or a length check; noUncheckedIndexedAccess types each array read as possibly undefined */
/**
 * Input gate: a study is scored only if it is a frontal chest radiograph.
 *
 * 1. DICOM tags, where present: Modality must be CR or DX, BodyPartExamined CHEST (or THORAX),
 *    ViewPosition PA or AP. A present tag with another value rejects the image. All three present
 *    and right accepts it.
 * 2. Otherwise (PNG, JPEG, DICOM without those tags) a learned check on the pixels decides: a
 *    logistic model on the 512² model input (z-scored) mean-pooled to 32×32 cells, trained by
 *    ml/gate/train-gate.ts on frontal chest X-rays vs non-chest radiographs, rotated / upside-down /
 *    cropped / inverted chest X-rays and non-radiograph images (weights in ml/weights/input-gate.json,
 *    validation in ml/reports/input-gate.md).
 *
 * Pure functions: the triage worker calls them on the plane it already computed for the models.
 */
import { z } from 'zod';
import type { DicomImageInfo } from '../decode';
import { MODEL_INPUT_SIZE } from './preprocess';

export const GATE_FILE = 'input-gate.json';
export const GATE_POOL = 32;
export const NOT_FRONTAL_CHEST = 'not scored: not a frontal chest X-ray';

export const gateModelSchema = z.object({
  schema: z.literal(1),
  name: z.literal('input-gate'),
  version: z.string().min(1),
  /** Features: the 512² z-scored model input mean-pooled to pool×pool cells, then (x - mean) / std. */
  pool: z.literal(GATE_POOL),
  mean: z.array(z.number()).length(GATE_POOL * GATE_POOL),
  std: z.array(z.number().positive()).length(GATE_POOL * GATE_POOL),
  weights: z.array(z.number()).length(GATE_POOL * GATE_POOL),
  bias: z.number(),
  /** P(frontal chest X-ray) at or above this is scored. */
  threshold: z.number().min(0).max(1),
});
export type GateModel = z.infer<typeof gateModelSchema> & {
  /** sha256 of the file it was loaded from (set by the loader). */
  readonly sha256?: string;
};

export type GateSource = 'dicom-tags' | 'pixels';

export interface GateDecision {
  readonly scored: boolean;
  /** What decided: the DICOM tags or the learned pixel check. */
  readonly by: GateSource;
  /** Plain words: why the image was (not) scored. */
  readonly reason: string;
  /** P(frontal chest X-ray) of the pixel check (computed for every image, also when the tags decided). */
  readonly chestProbability: number;
  /** The pixel model that was used (absent when none is installed). */
  readonly model?: { readonly version: string; readonly sha256?: string };
}

const CHEST_BODY_PARTS = new Set(['CHEST', 'THORAX', 'LUNG', 'LUNGS']);
const FRONTAL_VIEWS = new Set(['PA', 'AP']);
const RADIOGRAPH_MODALITIES = new Set(['CR', 'DX']);

/** 'chest' when the tags say frontal chest radiograph, 'not-chest' when a tag says otherwise, else 'unknown'. */
export function gateByTags(dicom: Pick<DicomImageInfo, 'modality' | 'bodyPart' | 'viewPosition'> | undefined): {
  verdict: 'chest' | 'not-chest' | 'unknown';
  reason: string;
} {
  if (!dicom) return { verdict: 'unknown', reason: 'no DICOM tags' };
  const modality = dicom.modality?.trim().toUpperCase();
  const bodyPart = dicom.bodyPart?.trim().toUpperCase();
  const view = dicom.viewPosition?.trim().toUpperCase();
  if (modality && !RADIOGRAPH_MODALITIES.has(modality)) return { verdict: 'not-chest', reason: `DICOM Modality is ${modality}, not a radiograph (CR/DX)` };
  if (bodyPart && !CHEST_BODY_PARTS.has(bodyPart)) return { verdict: 'not-chest', reason: `DICOM BodyPartExamined is ${bodyPart}, not CHEST` };
  if (view && !FRONTAL_VIEWS.has(view)) return { verdict: 'not-chest', reason: `DICOM ViewPosition is ${view}, not a frontal view (PA/AP)` };
  if (modality && bodyPart && view) return { verdict: 'chest', reason: `DICOM tags: ${modality}, ${bodyPart}, ${view}` };
  return { verdict: 'unknown', reason: 'DICOM tags incomplete (Modality, BodyPartExamined, ViewPosition)' };
}

/** 512² plane → pool×pool cell means (row-major). */
export function gateFeatures(plane: Float32Array, size: number = MODEL_INPUT_SIZE, pool: number = GATE_POOL): Float64Array {
  if (plane.length !== size * size) throw new RangeError(`expected a ${size}×${size} plane`);
  if (size % pool !== 0) throw new RangeError(`${size} is not a multiple of ${pool}`);
  const cell = size / pool;
  const out = new Float64Array(pool * pool);
  for (let y = 0; y < size; y++) {
    const row = Math.floor(y / cell) * pool;
    const off = y * size;
    for (let x = 0; x < size; x++) out[row + Math.floor(x / cell)]! += plane[off + x]!;
  }
  const n = cell * cell;
  for (let i = 0; i < out.length; i++) out[i]! /= n;
  return out;
}

export function chestProbability(model: GateModel, features: Float64Array): number {
  let z = model.bias;
  for (let i = 0; i < features.length; i++) z += (model.weights[i]! * (features[i]! - model.mean[i]!)) / model.std[i]!;
  return 1 / (1 + Math.exp(-z));
}

/** The gate's decision for one image (plane: the preprocessed 512² model input). */
export function decideGate(model: GateModel, plane: Float32Array, dicom: DicomImageInfo | undefined): GateDecision {
  const p = chestProbability(model, gateFeatures(plane));
  const tags = gateByTags(dicom);
  const m = { model: { version: model.version, ...(model.sha256 ? { sha256: model.sha256 } : {}) } };
  if (tags.verdict === 'not-chest') return { scored: false, by: 'dicom-tags', reason: `${NOT_FRONTAL_CHEST} (${tags.reason})`, chestProbability: p, ...m };
  if (tags.verdict === 'chest') return { scored: true, by: 'dicom-tags', reason: tags.reason, chestProbability: p, ...m };
  const pct = `${(p * 100).toFixed(1)}%`;
  if (p >= model.threshold) return { scored: true, by: 'pixels', reason: `pixel check: frontal chest X-ray (P = ${pct})`, chestProbability: p, ...m };
  return {
    scored: false,
    by: 'pixels',
    reason: `${NOT_FRONTAL_CHEST} (pixel check P = ${pct} < ${(model.threshold * 100).toFixed(0)}%)`,
    chestProbability: p,
    ...m,
  };
}

export function parseGateModel(json: unknown): GateModel {
  return gateModelSchema.parse(json);
}
