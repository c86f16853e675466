/* eslint-disable @typescript-eslint/no-non-null-assertion -- numeric kernel: every index is bounded by its loop or a length check; noUncheckedIndexedAccess types each array read as possibly undefined */
/**
 * Model input preparation: THE CONTRACT shared with ml/training/hoichan_ml/preprocess.py.
 *
 * grey [0,1] image → exact area resize to 512×512 (float64 weights and sums, float32 result)
 * → per-image z-score (float64 stats, population std, float32 result) → [1,1,512,512] tensor.
 */

export const MODEL_INPUT_SIZE = 512;
export const STD_EPS = 1e-6;

export interface GreyImage {
  readonly width: number;
  readonly height: number;
  /** Row-major grey values in [0,1], length width·height. */
  readonly pixels: Float32Array;
}

/** Sparse rows of the (outLen × inLen) area-resampling matrix: output i = Σ weights[k]·in[first + k]. */
export interface AreaWeights {
  readonly inLen: number;
  readonly outLen: number;
  readonly first: Int32Array;
  readonly weights: readonly Float64Array[];
}

const weightCache = new Map<string, AreaWeights>();

/**
 * Output index i covers the source interval [i·L/out, (i+1)·L/out); input pixel j (covering
 * [j, j+1)) contributes overlap / (L/out). The arithmetic mirrors `area_matrix` in Python
 * operation for operation so the float64 weights are identical.
 */
export function areaWeights(inLen: number, outLen: number = MODEL_INPUT_SIZE): AreaWeights {
  if (!Number.isInteger(inLen) || inLen < 1 || !Number.isInteger(outLen) || outLen < 1) {
    throw new RangeError(`area resize needs positive integer lengths, got ${inLen} → ${outLen}`);
  }
  const key = `${inLen}:${outLen}`;
  const cached = weightCache.get(key);
  if (cached) return cached;

  const scale = inLen / outLen;
  const first = new Int32Array(outLen);
  const weights: Float64Array[] = [];
  for (let i = 0; i < outLen; i++) {
    const a = (i * inLen) / outLen;
    const b = ((i + 1) * inLen) / outLen;
    const j0 = Math.floor(a);
    const j1 = Math.min(Math.ceil(b), inLen);
    const row = new Float64Array(Math.max(0, j1 - j0));
    for (let j = j0; j < j1; j++) {
      const overlap = Math.min(b, j + 1) - Math.max(a, j);
      if (overlap > 0) row[j - j0] = overlap / scale;
    }
    first[i] = j0;
    weights.push(row);
  }
  const result: AreaWeights = { inLen, outLen, first, weights };
  if (weightCache.size >= 64) weightCache.clear();
  weightCache.set(key, result);
  return result;
}

/** Exact area resize to size×size (aspect not preserved); float64 accumulation, float32 result. */
export function resizeArea(image: GreyImage, size: number = MODEL_INPUT_SIZE): Float32Array {
  const { width, height, pixels } = image;
  if (pixels.length !== width * height) {
    throw new RangeError(`pixel buffer has ${pixels.length} values, expected ${width}×${height}`);
  }
  if (width === size && height === size) return Float32Array.from(pixels);

  const ry = areaWeights(height, size);
  const rx = areaWeights(width, size);

  // Rows first (Ry @ img), kept in float64 like numpy's chained matmul, then columns (· Rx^T).
  const rowsResized = new Float64Array(size * width);
  for (let i = 0; i < size; i++) {
    const w = ry.weights[i]!;
    const j0 = ry.first[i]!;
    const outRow = i * width;
    for (let k = 0; k < w.length; k++) {
      const wk = w[k]!;
      if (wk === 0) continue;
      const inRow = (j0 + k) * width;
      for (let x = 0; x < width; x++) rowsResized[outRow + x]! += wk * pixels[inRow + x]!;
    }
  }

  const out = new Float32Array(size * size);
  for (let i = 0; i < size; i++) {
    const row = i * width;
    for (let c = 0; c < size; c++) {
      const w = rx.weights[c]!;
      const j0 = rx.first[c]!;
      let acc = 0;
      for (let k = 0; k < w.length; k++) acc += w[k]! * rowsResized[row + j0 + k]!;
      out[i * size + c] = acc;
    }
  }
  return out;
}

/** Per-image z-score: mean and population std in float64, std floored at STD_EPS; float32 result. */
export function normalise(values: Float32Array): Float32Array {
  const n = values.length;
  if (n === 0) throw new RangeError('cannot normalise an empty image');
  let sum = 0;
  for (let i = 0; i < n; i++) sum += values[i]!;
  const mean = sum / n;
  let sq = 0;
  for (let i = 0; i < n; i++) {
    const d = values[i]! - mean;
    sq += d * d;
  }
  const std = Math.max(Math.sqrt(sq / n), STD_EPS);
  const out = new Float32Array(n);
  for (let i = 0; i < n; i++) out[i] = (values[i]! - mean) / std;
  return out;
}

/** Grey [0,1] image → normalised 512×512 float32 plane, row-major; the tensor is [1,1,512,512]. */
export function preprocess(image: GreyImage): Float32Array {
  return normalise(resizeArea(image, MODEL_INPUT_SIZE));
}

export const MODEL_INPUT_DIMS: readonly number[] = [1, 1, MODEL_INPUT_SIZE, MODEL_INPUT_SIZE];
