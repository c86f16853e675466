/**
 * Python-vs-TS preprocessing parity: the numpy reference (ml/training/hoichan_ml/preprocess.py,
 * run with $HOICHAN_PY, default python3) and ml/decode + ml/inference/preprocess must agree to
 * 1e-5 on every fixture Pillow can open. A Python without numpy/Pillow FAILS the suite unless
 * HOICHAN_SKIP_PY_PARITY=1.
 */
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { decodeImage } from '../../../ml/decode';
import { MODEL_INPUT_SIZE, preprocess } from '../../../ml/inference/preprocess';
import { cxrFixtures, maxAbsDiff, REPO } from './helpers';

// Generous: model start-up and inference share 2 cores with training jobs.
jest.setTimeout(180_000);

const PYTHON = process.env.HOICHAN_PY ?? 'python3';
const SKIP = process.env.HOICHAN_SKIP_PY_PARITY === '1';
const TRAINING_DIR = path.join(REPO, 'ml', 'training');
const TOLERANCE = 1e-5;
// Pillow cannot read DICOM, so the Python reference covers the raster formats.
const fixtures = cxrFixtures().filter((f) => ['.png', '.jpg', '.jpeg'].includes(path.extname(f).toLowerCase()));

function pythonProblem(): string | undefined {
  const probe = spawnSync(PYTHON, ['-c', 'import numpy, PIL'], { encoding: 'utf8', timeout: 60_000 });
  if (probe.error) return `cannot run HOICHAN_PY=${PYTHON}: ${probe.error.message}`;
  if (probe.status !== 0) return `HOICHAN_PY=${PYTHON} cannot import numpy and Pillow:\n${probe.stderr.trim()}`;
  return undefined;
}

const describeParity = SKIP ? describe.skip : describe;

describeParity('Python-vs-TS preprocessing parity', () => {
  let workDir: string;
  let problem: string | undefined;

  beforeAll(() => {
    workDir = mkdtempSync(path.join(os.tmpdir(), 'hoichan-parity-'));
    problem = pythonProblem();
  });
  afterAll(() => rmSync(workDir, { recursive: true, force: true }));

  it('has a Python reference with numpy and Pillow', () => {
    if (problem) {
      throw new Error(
        `${problem}\nPoint HOICHAN_PY at a Python with ml/training/requirements-ci.txt installed ` +
          `(e.g. HOICHAN_PY=~/.cache/hoichan/ml-venv-*/bin/python), or set HOICHAN_SKIP_PY_PARITY=1 to skip this suite.`,
      );
    }
  });

  it('has fixtures to compare', () => {
    expect(fixtures.length).toBeGreaterThan(0);
  });

  it.each(fixtures.map((f) => [path.basename(f), f]))('%s: TS tensor matches numpy within 1e-5', async (name, file) => {
    if (problem) throw new Error(problem);
    const out = path.join(workDir, `${name}.f32`);
    const run = spawnSync(PYTHON, ['-m', 'hoichan_ml.preprocess', '--dump', file, out], { cwd: TRAINING_DIR, encoding: 'utf8', timeout: 120_000 });
    if (run.status !== 0) throw new Error(`python preprocess failed for ${name}:\n${run.stderr || run.error?.message}`);
    const bytes = readFileSync(out);
    const reference = new Float32Array(bytes.buffer.slice(bytes.byteOffset, bytes.byteOffset + bytes.byteLength));
    expect(reference.length).toBe(MODEL_INPUT_SIZE * MODEL_INPUT_SIZE);

    const tensor = preprocess(await decodeImage(readFileSync(file)));
    expect(maxAbsDiff(tensor, reference)).toBeLessThan(TOLERANCE);
  });
});
