/* eslint-disable @typescript-eslint/no-non-null-assertion -- numeric kernel: every index is bounded by its loop or a length check; noUncheckedIndexedAccess types each array read as possibly undefined */
/**
 * Heatmap → boxes and flags: THE CONTRACT shared with `extract_boxes` in
 * ml/training/hoichan_ml/metrics.py.
 */
import { MODEL_INPUT_SIZE } from './preprocess';

export type Finding = 'tb' | 'nodule';

export const HEATMAP_GRID = 128;
export const HEATMAP_STRIDE = 4;
export const MAX_BOXES = 10;
/** A component of a single cell survives only when its probability reaches box threshold + this. */
export const SINGLE_CELL_MARGIN = 0.1;

/** A box in model-input (512×512) pixels: [x_min, y_min, x_max, y_max) plus its score. */
export interface Box {
  readonly x_min: number;
  readonly y_min: number;
  readonly x_max: number;
  readonly y_max: number;
  readonly score: number;
}

export interface Lesion extends Box {
  readonly finding: Finding;
}

export interface BoxOptions {
  readonly threshold: number;
  readonly grid?: number;
  readonly stride?: number;
  readonly maxBoxes?: number;
}

// 8-connectivity neighbour offsets (row, col).
const NEIGHBOURS: readonly (readonly [number, number])[] = [
  [-1, -1],
  [-1, 0],
  [-1, 1],
  [0, -1],
  [0, 1],
  [1, -1],
  [1, 0],
  [1, 1],
];

/**
 * Boxes from a grid×grid probability map: cells ≥ threshold, 8-connected components, each
 * component's bounding box scaled by `stride`, score = max probability in it; single-cell
 * components below threshold + 0.1 are dropped; sorted by score (ties keep the raster order
 * of each component's first cell), at most `maxBoxes`.
 */
export function extractBoxes(heatmap: Float32Array, options: BoxOptions): Box[] {
  const grid = options.grid ?? HEATMAP_GRID;
  const stride = options.stride ?? HEATMAP_STRIDE;
  const maxBoxes = options.maxBoxes ?? MAX_BOXES;
  if (heatmap.length !== grid * grid) {
    throw new RangeError(`heatmap has ${heatmap.length} cells, expected ${grid}×${grid}`);
  }
  // numpy compares the float32 map against np.float32(thr); the drop rule then uses the float64 thr.
  const cellThreshold = Math.fround(options.threshold);
  const visited = new Uint8Array(grid * grid);
  const stack = new Int32Array(grid * grid);
  const boxes: Box[] = [];

  for (let start = 0; start < heatmap.length; start++) {
    if (visited[start] || !(heatmap[start]! >= cellThreshold)) continue;
    visited[start] = 1;
    let top = 0;
    stack[top++] = start;
    let cells = 0;
    let score = -Infinity;
    let minRow = grid,
      maxRow = -1,
      minCol = grid,
      maxCol = -1;
    while (top > 0) {
      const cell = stack[--top]!;
      const row = Math.floor(cell / grid);
      const col = cell - row * grid;
      cells++;
      score = Math.max(score, heatmap[cell]!);
      minRow = Math.min(minRow, row);
      maxRow = Math.max(maxRow, row);
      minCol = Math.min(minCol, col);
      maxCol = Math.max(maxCol, col);
      for (const [dr, dc] of NEIGHBOURS) {
        const r = row + dr;
        const c = col + dc;
        if (r < 0 || r >= grid || c < 0 || c >= grid) continue;
        const next = r * grid + c;
        if (visited[next] || !(heatmap[next]! >= cellThreshold)) continue;
        visited[next] = 1;
        stack[top++] = next;
      }
    }
    if (cells === 1 && score < options.threshold + SINGLE_CELL_MARGIN) continue;
    boxes.push({
      x_min: minCol * stride,
      y_min: minRow * stride,
      x_max: (maxCol + 1) * stride,
      y_max: (maxRow + 1) * stride,
      score,
    });
  }
  // Array.prototype.sort is stable, so ties keep the raster order in which components were found.
  boxes.sort((a, b) => b.score - a.score);
  return boxes.slice(0, maxBoxes);
}

/** Maps a box from model-input space to the original image's pixels (x·W/512, y·H/512). */
export function boxToImage(box: Box, width: number, height: number, inputSize: number = MODEL_INPUT_SIZE): Box {
  return {
    x_min: (box.x_min * width) / inputSize,
    y_min: (box.y_min * height) / inputSize,
    x_max: (box.x_max * width) / inputSize,
    y_max: (box.y_max * height) / inputSize,
    score: box.score,
  };
}

export function isFlagged(score: number, flagThreshold: number): boolean {
  return score >= flagThreshold;
}
