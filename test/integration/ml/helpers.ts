/** Shared paths and fixture access for the ML integration tests. */
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';

export const REPO = path.resolve(__dirname, '..', '..', '..');
/** Real weights by default; HOICHAN_TEST_WEIGHTS points the tests at another model set. */
export const WEIGHTS_DIR = process.env.HOICHAN_TEST_WEIGHTS ?? path.join(REPO, 'ml', 'weights');
export const CXR_FIXTURES = path.join(REPO, 'test', 'fixtures', 'cxr');
export const DICOM_FIXTURES = path.join(REPO, 'test', 'fixtures', 'dicom');

const IMAGE_EXTENSIONS = new Set(['.png', '.jpg', '.jpeg', '.dcm']);

/** Image files of test/fixtures/cxr, sorted by name. */
export function cxrFixtures(): string[] {
  if (!existsSync(CXR_FIXTURES)) return [];
  return readdirSync(CXR_FIXTURES)
    .filter((f) => IMAGE_EXTENSIONS.has(path.extname(f).toLowerCase()))
    .sort()
    .map((f) => path.join(CXR_FIXTURES, f));
}

export interface ExpectedHeatmap {
  readonly max: number;
  readonly argmax: number;
  readonly argmax_rowcol: readonly [number, number];
  readonly sum: number;
  readonly boxes: readonly { readonly box: readonly [number, number, number, number]; readonly score: number }[];
}

export interface ExpectedModelOutput {
  readonly score: number;
  readonly heatmap: ExpectedHeatmap;
}

export interface ExpectedFile {
  readonly width: number;
  readonly height: number;
  readonly mode: string;
  readonly preprocess: {
    readonly sum: number;
    readonly sum_sq: number;
    readonly resized_mean: number;
    readonly resized_std: number;
    readonly values: readonly number[];
  };
  readonly [model: string]: unknown;
}

export interface ExpectedFixtures {
  readonly positions_yx: readonly (readonly [number, number])[];
  readonly tolerance: { readonly preprocess_abs: number; readonly score_abs: number; readonly heatmap_abs: number };
  readonly models: Readonly<Record<string, { file: string; sha256: string; version: string; thresholds: { flag: number; box: number } }>>;
  readonly files: Readonly<Record<string, ExpectedFile>>;
}

/** test/fixtures/cxr/expected.json (written by ml/training/make_fixtures.py). */
export function loadExpected(): ExpectedFixtures {
  const file = path.join(CXR_FIXTURES, 'expected.json');
  if (!existsSync(file)) throw new Error(`${file} is missing: run ml/training/make_fixtures.py`);
  return JSON.parse(readFileSync(file, 'utf8')) as ExpectedFixtures;
}

export function expectedOutput(file: ExpectedFile, model: string): ExpectedModelOutput {
  const out = file[model];
  if (typeof out !== 'object' || out === null) throw new Error(`expected.json has no "${model}" outputs`);
  return out as ExpectedModelOutput;
}

export function maxAbsDiff(a: ArrayLike<number>, b: ArrayLike<number>): number {
  if (a.length !== b.length) throw new Error(`length ${a.length} vs ${b.length}`);
  let max = 0;
  for (let i = 0; i < a.length; i++) max = Math.max(max, Math.abs(a[i]! - b[i]!));
  return max;
}
