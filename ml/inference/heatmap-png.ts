/* eslint-disable @typescript-eslint/no-non-null-assertion -- numeric kernel: every index is bounded by its loop or a length check; noUncheckedIndexedAccess types each array read as possibly undefined */
/**
 * Renders a probability heatmap as an RGBA PNG overlay for the original image:
 * transparent → yellow → red, alpha proportional to probability.
 */
import { PNG } from 'pngjs';

/**
 * The models' heatmaps are 128×128 cells (stride 4 on the 512² input): a 256 px overlay (2 px per
 * cell, bilinear) holds all they say; the viewer stretches it over the image. Rendering it at the
 * image's size (up to 1024 px) cost more than both models together (≈ 19 ms vs 16 ms per image).
 */
export const DEFAULT_OVERLAY_MAX_SIDE = 256;
/** Full-probability cells stay slightly see-through so the radiograph remains readable. */
const MAX_ALPHA = 0.8;

export interface OverlaySize {
  readonly width: number;
  readonly height: number;
}

/** The image size capped to `maxSide` on its longer side, aspect preserved, never upscaled. */
export function overlaySize(width: number, height: number, maxSide: number = DEFAULT_OVERLAY_MAX_SIDE): OverlaySize {
  const scale = Math.min(1, maxSide / Math.max(width, height));
  return {
    width: Math.max(1, Math.round(width * scale)),
    height: Math.max(1, Math.round(height * scale)),
  };
}

export interface HeatmapPngOptions {
  /** Side of the square heatmap grid (128 for a stride-4 map of a 512 input). */
  readonly grid: number;
  /** Output size in pixels (usually `overlaySize(image.width, image.height)`). */
  readonly size: OverlaySize;
}

/**
 * What a triage result keeps of a model's heatmap until someone looks at it: probabilities as
 * round(p · 255), grid × grid row-major (16 KiB for 128²). The overlay PNG is rendered from it on
 * the first read (renderOverlayPng), not for every image triaged.
 */
export interface HeatmapGrid {
  readonly grid: number;
  readonly cells: Uint8Array;
}

export function quantiseHeatmap(heatmap: Float32Array, grid: number): HeatmapGrid {
  if (heatmap.length !== grid * grid) throw new RangeError(`heatmap has ${heatmap.length} cells, expected ${grid}×${grid}`);
  const cells = new Uint8Array(heatmap.length);
  for (let i = 0; i < cells.length; i++) cells[i] = Math.round(clamp01(heatmap[i]!) * 255);
  return { grid, cells };
}

/** The grid read back from its stored bytes (a square number of cells), or a RangeError. */
export function heatmapGridOf(cells: Uint8Array): HeatmapGrid {
  const grid = Math.round(Math.sqrt(cells.length));
  if (grid === 0 || grid * grid !== cells.length) throw new RangeError(`a stored heatmap of ${cells.length} bytes is not a square grid`);
  return { grid, cells };
}

/** The overlay PNG of a stored heatmap for an image of width × height (longer side ≤ maxSide). */
export function renderOverlayPng(heatmap: HeatmapGrid, width: number, height: number, maxSide: number = DEFAULT_OVERLAY_MAX_SIDE): Uint8Array {
  const probabilities = Float32Array.from(heatmap.cells, (v) => v / 255);
  return renderHeatmapPng(probabilities, { grid: heatmap.grid, size: overlaySize(width, height, maxSide) });
}

/** Bilinear sampling of the grid at pixel centres, so the overlay lines up with the source image. */
export function renderHeatmapPng(heatmap: Float32Array, options: HeatmapPngOptions): Uint8Array {
  const { grid, size } = options;
  if (heatmap.length !== grid * grid) {
    throw new RangeError(`heatmap has ${heatmap.length} cells, expected ${grid}×${grid}`);
  }
  const { width, height } = size;
  const png = new PNG({ width, height, colorType: 6, inputHasAlpha: true });
  const data = png.data;

  const xs = samplePositions(width, grid);
  const ys = samplePositions(height, grid);
  for (let y = 0; y < height; y++) {
    const y0 = ys.lower[y]!;
    const y1 = Math.min(y0 + 1, grid - 1);
    const fy = ys.fraction[y]!;
    for (let x = 0; x < width; x++) {
      const x0 = xs.lower[x]!;
      const x1 = Math.min(x0 + 1, grid - 1);
      const fx = xs.fraction[x]!;
      const top = heatmap[y0 * grid + x0]! * (1 - fx) + heatmap[y0 * grid + x1]! * fx;
      const bottom = heatmap[y1 * grid + x0]! * (1 - fx) + heatmap[y1 * grid + x1]! * fx;
      const p = clamp01(top * (1 - fy) + bottom * fy);
      const o = (y * width + x) * 4;
      data[o] = 255;
      data[o + 1] = Math.round(255 * (1 - p));
      data[o + 2] = 0;
      data[o + 3] = Math.round(255 * MAX_ALPHA * p);
    }
  }
  // A copy owns its ArrayBuffer (small Buffers live in Node's shared pool), so it can be transferred.
  return new Uint8Array(PNG.sync.write(png, { colorType: 6, deflateLevel: 3, filterType: 1 }));
}

function samplePositions(outLen: number, grid: number): { lower: Int32Array; fraction: Float64Array } {
  const lower = new Int32Array(outLen);
  const fraction = new Float64Array(outLen);
  for (let i = 0; i < outLen; i++) {
    const g = Math.min(Math.max(((i + 0.5) * grid) / outLen - 0.5, 0), grid - 1);
    const g0 = Math.floor(g);
    lower[i] = g0;
    fraction[i] = g - g0;
  }
  return { lower, fraction };
}

function clamp01(v: number): number {
  return v < 0 ? 0 : v > 1 ? 1 : Number.isNaN(v) ? 0 : v;
}
