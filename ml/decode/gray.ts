/** An 8- or 16-bit raster as produced by the PNG/JPEG decoders. */
export interface Raster {
  width: number;
  height: number;
  /** Samples per pixel in `data` (1–4); only the first one (grey) or three (RGB) are read, alpha is ignored. */
  stride: number;
  colour: 'grey' | 'rgb';
  /** Largest representable sample value: 255 for 8-bit, 65535 for 16-bit, 2^depth − 1 for low-depth grey PNG. */
  maxValue: number;
  data: ArrayLike<number>;
}

/** ITU-R BT.601 luma weights of the ML preprocessing contract. */
export const LUMA_R = 0.299;
export const LUMA_G = 0.587;
export const LUMA_B = 0.114;

/**
 * Converts a raster to grey in [0,1] exactly as the ML preprocessing contract:
 * grey → v / maxValue (8-bit v/255, 16-bit v/65535); RGB(A) → (0.299 R + 0.587 G + 0.114 B) / maxValue,
 * alpha ignored. Arithmetic is float64; the result is stored as float32.
 */
export function toGray01(raster: Raster): Float32Array {
  const { width, height, stride, colour, maxValue, data } = raster;
  const n = width * height;
  if (colour === 'rgb' && stride < 3) throw new RangeError('an RGB raster needs at least 3 samples per pixel');
  if (stride < 1 || data.length < n * stride) {
    throw new RangeError(`raster data has ${data.length} samples, expected ${n * stride}`);
  }
  const out = new Float32Array(n);
  if (colour === 'grey') {
    for (let i = 0, p = 0; i < n; i++, p += stride) out[i] = (data[p] as number) / maxValue;
  } else {
    for (let i = 0, p = 0; i < n; i++, p += stride) {
      const y = LUMA_R * (data[p] as number) + LUMA_G * (data[p + 1] as number) + LUMA_B * (data[p + 2] as number);
      out[i] = y / maxValue;
    }
  }
  return out;
}
