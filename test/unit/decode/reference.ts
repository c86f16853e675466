/**
 * Reference summaries produced by test/fixtures/dicom/make-reference.sh (GDCM stored values,
 * DCMTK rendering). The sampling and grid algorithms mirror make-reference.js exactly.
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';

export const FIXTURES = join(__dirname, '../../fixtures/dicom');

export interface ReferenceSummary {
  name: string;
  rows: number;
  cols: number;
  bitsAllocated: number;
  bitsStored: number;
  pixelRepresentation: number;
  stored: { sha256: string; min: number; max: number; mean: number; samples: number[]; grid: number[] };
  rendered: { samples: number[]; grid: number[] };
}

export const SAMPLE_COUNT = 512;
export const GRID = 16;

export function readFixture(name: string): Buffer {
  return readFileSync(join(FIXTURES, name));
}

export function readReference(stem: string): ReferenceSummary {
  return JSON.parse(readFileSync(join(FIXTURES, 'reference', `${stem}.json`), 'utf8')) as ReferenceSummary;
}

/** Same 32-bit LCG (seed 12345) as make-reference.js. */
export function samplePositions(n: number, count = SAMPLE_COUNT): number[] {
  const out: number[] = [];
  let s = 12345;
  for (let i = 0; i < count; i++) {
    s = (Math.imul(s, 1664525) + 1013904223) >>> 0;
    out.push(s % n);
  }
  return out;
}

export function gridMeans(values: ArrayLike<number>, rows: number, cols: number): number[] {
  const out: number[] = [];
  for (let gy = 0; gy < GRID; gy++) {
    const y0 = Math.floor((gy * rows) / GRID);
    const y1 = Math.floor(((gy + 1) * rows) / GRID);
    for (let gx = 0; gx < GRID; gx++) {
      const x0 = Math.floor((gx * cols) / GRID);
      const x1 = Math.floor(((gx + 1) * cols) / GRID);
      let sum = 0;
      let n = 0;
      for (let y = y0; y < y1; y++)
        for (let x = x0; x < x1; x++) {
          sum += values[y * cols + x] as number;
          n++;
        }
      out.push(n ? sum / n : 0);
    }
  }
  return out;
}

export function maxAbsDiff(a: ArrayLike<number>, b: ArrayLike<number>): number {
  expect(a.length).toBe(b.length);
  let max = 0;
  for (let i = 0; i < a.length; i++) max = Math.max(max, Math.abs((a[i] as number) - (b[i] as number)));
  return max;
}

/** File name and sha256 of each fixture manifest row (the first six columns hold no quoted commas). */
export function readManifest(): { file: string; sha256: string }[] {
  const lines = readFileSync(join(FIXTURES, 'manifest.csv'), 'utf8').trim().split('\n').slice(1);
  return lines.map((line) => {
    const cols = line.split(',');
    return { file: cols[0] as string, sha256: cols[5] as string };
  });
}
