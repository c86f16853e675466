import { ImageDecodeError } from './errors';

/** Resource limits applied before any large allocation. */
export interface DecodeLimits {
  /** Largest accepted input buffer, in bytes. Default 64 MiB. */
  maxBytes: number;
  /** Largest accepted rows × columns. Default 50e6. */
  maxPixels: number;
  /** Largest accepted width or height. Default 10000. */
  maxSide: number;
}

export const DEFAULT_DECODE_LIMITS: Readonly<DecodeLimits> = Object.freeze({
  maxBytes: 64 * 1024 * 1024,
  maxPixels: 50e6,
  maxSide: 10000,
});

export function resolveLimits(partial?: Partial<DecodeLimits>): DecodeLimits {
  const limits: DecodeLimits = { ...DEFAULT_DECODE_LIMITS, ...stripUndefined(partial) };
  for (const [key, value] of Object.entries(limits)) {
    if (!Number.isFinite(value) || value <= 0) throw new RangeError(`DecodeLimits.${key} must be a positive number`);
  }
  return limits;
}

function stripUndefined(partial?: Partial<DecodeLimits>): Partial<DecodeLimits> {
  const out: Partial<DecodeLimits> = {};
  if (partial?.maxBytes !== undefined) out.maxBytes = partial.maxBytes;
  if (partial?.maxPixels !== undefined) out.maxPixels = partial.maxPixels;
  if (partial?.maxSide !== undefined) out.maxSide = partial.maxSide;
  return out;
}

/** Rejects absent, non-integer or over-limit image dimensions with code `dimensions`. */
export function checkDimensions(width: number, height: number, limits: DecodeLimits, what = 'image'): void {
  if (!Number.isInteger(width) || !Number.isInteger(height) || width <= 0 || height <= 0) {
    throw new ImageDecodeError('dimensions', `${what} has invalid dimensions ${width}×${height}`);
  }
  if (width > limits.maxSide || height > limits.maxSide) {
    throw new ImageDecodeError('dimensions', `${what} is ${width}×${height}, larger than maxSide ${limits.maxSide}`);
  }
  if (width * height > limits.maxPixels) {
    throw new ImageDecodeError('dimensions', `${what} has ${width * height} pixels, more than maxPixels ${limits.maxPixels}`);
  }
}
