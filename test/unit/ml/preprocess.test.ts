import { areaWeights, MODEL_INPUT_SIZE, normalise, preprocess, resizeArea, STD_EPS, type GreyImage } from '../../../ml/inference/preprocess';

/** Deterministic PRNG so failures are reproducible. */
function mulberry32(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

function randomImage(width: number, height: number, seed: number): GreyImage {
  const rand = mulberry32(seed);
  const pixels = new Float32Array(width * height);
  for (let i = 0; i < pixels.length; i++) pixels[i] = rand();
  return { width, height, pixels };
}

/** Dense (out × in) matrix straight from the definition: weight = overlap of [j, j+1) with the output's interval / (L/out). */
function denseAreaMatrix(inLen: number, outLen: number): number[][] {
  const m: number[][] = [];
  for (let i = 0; i < outLen; i++) {
    const lo = (i * inLen) / outLen;
    const hi = ((i + 1) * inLen) / outLen;
    const row: number[] = [];
    for (let j = 0; j < inLen; j++) row.push(Math.max(0, Math.min(hi, j + 1) - Math.max(lo, j)) / (inLen / outLen));
    m.push(row);
  }
  return m;
}

/** out = (Ry @ img) @ Rx^T with dense float64 matrices, cast to float32. */
function naiveResize(image: GreyImage, size: number): Float32Array {
  const ry = denseAreaMatrix(image.height, size);
  const rx = denseAreaMatrix(image.width, size);
  const rows: number[][] = ry.map((wy) => {
    const row = new Array<number>(image.width).fill(0);
    for (let y = 0; y < image.height; y++) for (let x = 0; x < image.width; x++) row[x]! += wy[y]! * image.pixels[y * image.width + x]!;
    return row;
  });
  const out = new Float32Array(size * size);
  rows.forEach((row, r) => {
    rx.forEach((wx, c) => {
      out[r * size + c] = row.reduce((acc, v, x) => acc + v * wx[x]!, 0);
    });
  });
  return out;
}

function maxAbsDiff(a: Float32Array, b: Float32Array): number {
  expect(a.length).toBe(b.length);
  let max = 0;
  for (let i = 0; i < a.length; i++) max = Math.max(max, Math.abs(a[i]! - b[i]!));
  return max;
}

describe('areaWeights', () => {
  it.each([
    [7, 3],
    [3, 7],
    [512, 512],
    [1000, 512],
    [300, 512],
    [5, 5],
  ])('matches the dense definition for %i → %i and every row sums to 1', (inLen, outLen) => {
    const w = areaWeights(inLen, outLen);
    const dense = denseAreaMatrix(inLen, outLen);
    let maxWeightDiff = 0;
    let maxSumDiff = 0;
    for (let i = 0; i < outLen; i++) {
      const row = new Array<number>(inLen).fill(0);
      w.weights[i]!.forEach((v, k) => (row[w.first[i]! + k] = v));
      row.forEach((v, j) => (maxWeightDiff = Math.max(maxWeightDiff, Math.abs(v - dense[i]![j]!))));
      maxSumDiff = Math.max(maxSumDiff, Math.abs(row.reduce((s, v) => s + v, 0) - 1));
    }
    expect(maxWeightDiff).toBeLessThan(1e-12);
    expect(maxSumDiff).toBeLessThan(1e-12);
  });

  it('rejects non-positive lengths', () => {
    expect(() => areaWeights(0, 512)).toThrow(RangeError);
    expect(() => areaWeights(10, 2.5)).toThrow(RangeError);
  });
});

describe('resizeArea', () => {
  it.each([
    ['down-sampling, square', 24, 24, 8],
    ['down-sampling, non-integer ratio', 17, 23, 7],
    ['up-sampling', 5, 3, 11],
    ['up-sampling, non-integer ratio', 6, 9, 13],
    ['mixed: wide, down in x and up in y', 40, 4, 9],
    ['single pixel', 1, 1, 4],
  ])('matches the naive reference (%s)', (_label, width, height, size) => {
    const image = randomImage(width, height, width * 1000 + height);
    expect(maxAbsDiff(resizeArea(image, size), naiveResize(image, size))).toBeLessThan(1e-6);
  });

  it('matches the naive reference for a non-square image to the 512 model size', () => {
    const image = randomImage(37, 61, 7);
    expect(maxAbsDiff(resizeArea(image), naiveResize(image, MODEL_INPUT_SIZE))).toBeLessThan(1e-6);
  });

  it('is the identity at 512×512 and returns a copy', () => {
    const image = randomImage(512, 512, 3);
    const out = resizeArea(image);
    expect(out).toEqual(image.pixels);
    expect(out).not.toBe(image.pixels);
  });

  it('preserves a constant image exactly enough', () => {
    const image: GreyImage = { width: 777, height: 1031, pixels: new Float32Array(777 * 1031).fill(0.25) };
    const out = resizeArea(image);
    expect(out.reduce((max, v) => Math.max(max, Math.abs(v - 0.25)), 0)).toBeLessThan(1e-7);
  });

  it('averages 2×2 blocks when halving', () => {
    const pixels = Float32Array.from([0, 1, 0.5, 0.5, 1, 0, 0.25, 0.75]);
    expect(Array.from(resizeArea({ width: 4, height: 2, pixels }, 1))).toEqual([0.5]);
    expect(Array.from(resizeArea({ width: 4, height: 2, pixels: Float32Array.from([1, 1, 0, 0, 1, 1, 0, 0]) }, 2))).toEqual([1, 0, 1, 0]);
  });

  it('rejects a pixel buffer of the wrong length', () => {
    expect(() => resizeArea({ width: 3, height: 3, pixels: new Float32Array(8) })).toThrow(RangeError);
  });
});

describe('normalise', () => {
  it('z-scores with float64 population statistics', () => {
    const image = randomImage(64, 32, 11);
    const out = normalise(image.pixels);
    const values = Array.from(image.pixels);
    const mean = values.reduce((s, v) => s + v, 0) / values.length;
    const std = Math.sqrt(values.reduce((s, v) => s + (v - mean) ** 2, 0) / values.length);
    expect(Array.from(out)).toEqual(values.map((v) => Math.fround((v - mean) / std)));
    const outMean = Array.from(out).reduce((s, v) => s + v, 0) / out.length;
    expect(Math.abs(outMean)).toBeLessThan(1e-6);
  });

  it('floors the std so a flat image maps to zeros, not NaN', () => {
    expect(Array.from(normalise(new Float32Array(16).fill(0.7)))).toEqual(new Array(16).fill(0));
    const nearlyFlat = Float32Array.from([0.5, 0.5, 0.5, 0.5 + 1e-7]);
    expect(Number.isFinite(normalise(nearlyFlat)[3]!)).toBe(true);
    expect(STD_EPS).toBe(1e-6);
  });

  it('rejects an empty image', () => {
    expect(() => normalise(new Float32Array(0))).toThrow(RangeError);
  });
});

describe('preprocess', () => {
  it('produces a normalised 512×512 plane from any size', () => {
    const out = preprocess(randomImage(300, 420, 5));
    expect(out).toBeInstanceOf(Float32Array);
    expect(out.length).toBe(MODEL_INPUT_SIZE * MODEL_INPUT_SIZE);
    let sum = 0;
    let sq = 0;
    for (const v of out) sum += v;
    const mean = sum / out.length;
    for (const v of out) sq += (v - mean) ** 2;
    expect(Math.abs(mean)).toBeLessThan(1e-5);
    expect(Math.sqrt(sq / out.length)).toBeCloseTo(1, 4);
  });
});
