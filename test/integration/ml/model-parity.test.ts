/**
 * onnxruntime-node outputs on the CXR fixtures vs the PyTorch outputs recorded at export
 * (test/fixtures/cxr/expected.json), and the TS preprocessing vs the checksums recorded there.
 */
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { decodeImage } from '../../../ml/decode';
import { extractBoxes } from '../../../ml/inference/postprocess';
import { MODEL_INPUT_SIZE, preprocess } from '../../../ml/inference/preprocess';
import { TriageEngine } from '../../../ml/inference/triage-engine';
import { CXR_FIXTURES, expectedOutput, loadExpected, WEIGHTS_DIR } from './helpers';

// Generous: model start-up and inference share 2 cores with training jobs.
jest.setTimeout(180_000);

const OUTPUT_TOLERANCE = 1e-4;
// Σ of 128² probabilities: 1e-4 per cell would allow 1.6; ORT and PyTorch agree far closer.
const HEATMAP_SUM_TOLERANCE = 1e-2;

const expected = loadExpected();
const files = Object.entries(expected.files);

describe('TS preprocessing vs the checksums in expected.json', () => {
  it.each(files)('%s', async (name, want) => {
    const decoded = await decodeImage(readFileSync(path.join(CXR_FIXTURES, name)));
    expect([decoded.width, decoded.height]).toEqual([want.width, want.height]);
    const tensor = preprocess(decoded);
    let sum = 0;
    let sumSq = 0;
    for (const v of tensor) {
      sum += v;
      sumSq += v * v;
    }
    expect(Math.abs(sum - want.preprocess.sum)).toBeLessThan(1e-5 * MODEL_INPUT_SIZE * MODEL_INPUT_SIZE);
    expect(Math.abs(sumSq - want.preprocess.sum_sq) / want.preprocess.sum_sq).toBeLessThan(1e-5);
    const values = expected.positions_yx.map(([y, x]) => tensor[y * MODEL_INPUT_SIZE + x]!);
    values.forEach((v, i) => expect(Math.abs(v - want.preprocess.values[i]!)).toBeLessThan(expected.tolerance.preprocess_abs));
  });
});

describe('onnxruntime-node outputs vs PyTorch (expected.json)', () => {
  let engine: TriageEngine;

  // Inference runs in the engine's worker threads, as in production (in-process ORT under jest
  // trips over jest's separate realm: ORT's output Float32Array fails `instanceof Float32Array`).
  beforeAll(async () => {
    engine = await TriageEngine.create({ weightsDir: WEIGHTS_DIR, threads: 2 });
  });
  afterAll(async () => {
    await engine?.close();
  });

  /** Outputs are only comparable for the exact weights expected.json was recorded with. */
  function staleFixtures(): string | undefined {
    const stale = Object.entries(expected.models)
      .map(([name, recorded]) => ({ name, recorded: recorded.sha256, loaded: engine.model.models.find((m) => m.name === name)?.sha256 }))
      .filter((m) => m.recorded !== m.loaded);
    if (stale.length === 0) return undefined;
    return (
      `test/fixtures/cxr/expected.json does not match ${WEIGHTS_DIR}: ` +
      stale.map((m) => `${m.name} recorded ${m.recorded}, loaded ${m.loaded ?? 'none'}`).join('; ') +
      '. Regenerate it with ml/training/make_fixtures.py from the checkpoints that were exported.'
    );
  }

  it('expected.json was generated for the committed weights', () => {
    const problem = staleFixtures();
    if (problem) throw new Error(problem);
    expect(engine.model.models.map((m) => m.name).sort()).toEqual(Object.keys(expected.models).sort());
  });

  it.each(files)('%s', async (name) => {
    const problem = staleFixtures();
    if (problem) throw new Error(problem);
    const result = await engine.analyse(readFileSync(path.join(CXR_FIXTURES, name)), { includeRawOutputs: true });
    for (const [modelName, recorded] of Object.entries(expected.models)) {
      const finding = modelName === 'tb-lesion' ? 'tb' : 'nodule';
      const want = expectedOutput(expected.files[name]!, modelName);
      const got = result.raw![finding];
      expect(Math.abs(got.score - want.score)).toBeLessThan(OUTPUT_TOLERANCE);
      let max = -Infinity;
      let sum = 0;
      for (const v of got.heatmap) {
        max = Math.max(max, v);
        sum += v;
      }
      expect(Math.abs(max - want.heatmap.max)).toBeLessThan(OUTPUT_TOLERANCE);
      expect(Math.abs(sum - want.heatmap.sum)).toBeLessThan(HEATMAP_SUM_TOLERANCE);
      // The argmax cell may differ only between near-ties; its value must still be the max.
      expect(Math.abs(got.heatmap[want.heatmap.argmax]! - max)).toBeLessThan(OUTPUT_TOLERANCE);

      const threshold = recorded.thresholds.box;
      if (got.heatmap.some((v) => Math.abs(v - threshold) < OUTPUT_TOLERANCE)) continue; // such a cell may legitimately flip
      const boxes = extractBoxes(got.heatmap, { threshold, grid: got.grid });
      expect(boxes.map((b) => [b.x_min, b.y_min, b.x_max, b.y_max])).toEqual(want.heatmap.boxes.map((b) => [...b.box]));
      boxes.forEach((b, i) => expect(Math.abs(b.score - want.heatmap.boxes[i]!.score)).toBeLessThan(OUTPUT_TOLERANCE));
    }
  });
});
