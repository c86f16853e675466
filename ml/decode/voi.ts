/**
 * Greyscale rendering pipeline of PS3.3 C.11: stored values → Modality LUT (rescale slope /
 * intercept) → VOI LUT (window, else min–max) → Presentation LUT (inversion), output in [0,1]
 * where higher is brighter (MONOCHROME2 / P-value sense).
 */

export type VoiFunction = 'LINEAR' | 'LINEAR_EXACT' | 'SIGMOID';

export interface GreyscaleRendering {
  rescaleSlope: number;
  rescaleIntercept: number;
  /** Window in modality (rescaled) units; when absent the min–max of the frame is used. */
  window?: { center: number; width: number; fn: VoiFunction };
  /** Invert the output (MONOCHROME1, or Presentation LUT Shape INVERSE on MONOCHROME2). */
  invert: boolean;
}

/**
 * Whether the displayed image must be inverted. PS3.3 C.8.11.6.1 (DX) and C.11.6.1: Presentation
 * LUT Shape INVERSE is the shape that accompanies MONOCHROME1 ("output after inversion is in
 * P-Values"): it names the SAME inversion MONOCHROME1 already implies, not a second one. So a
 * MONOCHROME1 image is inverted exactly once whether or not it also carries INVERSE; a MONOCHROME2
 * image is inverted only if it carries INVERSE. (Verified on the DX fixture 01_966_fixed, MONO1 +
 * INVERSE: lungs dark, bone bright, matching DCMTK.)
 */
export function shouldInvert(photometric: string, presentationLutShape: string | undefined): boolean {
  return photometric === 'MONOCHROME1' || presentationLutShape === 'INVERSE';
}

export function parseVoiFunction(value: string | undefined): VoiFunction {
  return value === 'LINEAR_EXACT' || value === 'SIGMOID' ? value : 'LINEAR';
}

/**
 * VOI LUT function of PS3.3 C.11.2.1.2 with output range [0,1].
 * LINEAR (C.11.2.1.2.1): x ≤ c − 0.5 − (w−1)/2 → 0; x > c − 0.5 + (w−1)/2 → 1;
 * else ((x − (c − 0.5)) / (w − 1) + 0.5). Width < 1 is treated as a threshold at c − 0.5.
 * LINEAR_EXACT (C.11.2.1.3.2): (x − c) / w + 0.5, clamped. SIGMOID (C.11.2.1.3.1): 1 / (1 + e^(−4(x − c)/w)).
 */
export function applyVoi(x: number, center: number, width: number, fn: VoiFunction): number {
  switch (fn) {
    case 'LINEAR': {
      if (width < 1) return x > center - 0.5 ? 1 : 0;
      const y = (x - (center - 0.5)) / (width - 1) + 0.5;
      return y <= 0 ? 0 : y >= 1 ? 1 : y;
    }
    case 'LINEAR_EXACT': {
      const y = (x - center) / width + 0.5;
      return y <= 0 ? 0 : y >= 1 ? 1 : y;
    }
    case 'SIGMOID':
      return 1 / (1 + Math.exp((-4 * (x - center)) / width));
  }
}

/** Renders stored values to [0,1] (float64 arithmetic, float32 storage). */
export function renderGreyscale(stored: Int32Array, rendering: GreyscaleRendering): Float32Array {
  const { rescaleSlope: slope, rescaleIntercept: intercept, invert } = rendering;
  const out = new Float32Array(stored.length);
  const window = rendering.window;
  if (window) {
    const { center, width, fn } = window;
    for (let i = 0; i < stored.length; i++) {
      const y = applyVoi((stored[i] as number) * slope + intercept, center, width, fn);
      out[i] = invert ? 1 - y : y;
    }
    return out;
  }
  // Min–max over the modality values. Slope may be negative, so rescale the extremes afterwards.
  let min = Infinity;
  let max = -Infinity;
  for (let i = 0; i < stored.length; i++) {
    const v = stored[i] as number;
    if (v < min) min = v;
    if (v > max) max = v;
  }
  const a = min * slope + intercept;
  const b = max * slope + intercept;
  const lo = Math.min(a, b);
  const span = Math.abs(b - a);
  for (let i = 0; i < stored.length; i++) {
    const y = span > 0 ? ((stored[i] as number) * slope + intercept - lo) / span : 0;
    out[i] = invert ? 1 - y : y;
  }
  return out;
}
