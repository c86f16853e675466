import { formatResult, parseArgs, UsageError } from '../../../ml/cli';
import type { TriageResult } from '../../../ml/inference/triage-engine';

describe('parseArgs', () => {
  it('takes files and options in any order', () => {
    expect(parseArgs(['a.png', '--weights', 'w', '--heatmaps=out', 'b.dcm', '--threads', '1'])).toEqual({
      files: ['a.png', 'b.dcm'],
      weightsDir: 'w',
      heatmapsDir: 'out',
      threads: 1,
    });
  });

  it('treats everything after -- as files', () => {
    expect(parseArgs(['--', '--weights', '-x.png']).files).toEqual(['--weights', '-x.png']);
  });

  it.each([[[]], [['--weights']], [['--bogus', 'a.png']], [['--threads', '0', 'a.png']], [['--heatmaps', '']]])('rejects %j', (argv) => {
    expect(() => parseArgs(argv)).toThrow(UsageError);
  });
});

describe('formatResult', () => {
  it('rounds coordinates to 1 decimal and scores to 4, and keeps the contract keys', () => {
    const result: TriageResult = {
      model: { name: 'hoichan-cxr', version: 'v', sha256: 'abc', models: [] },
      image: { width: 3000, height: 2000, format: 'png' },
      gate: { scored: true, by: 'pixels', reason: 'pixel check', chestProbability: 0.99 },
      tb: { score: 0.123456, flagged: false, threshold: 0.5 },
      nodule: { score: 0.98765, flagged: true, threshold: 0.5 },
      lesions: [{ finding: 'nodule', x_min: 1.23, y_min: 4.56, x_max: 7.89, y_max: 10.05, score: 0.55555 }],
      heatmaps: { tb: { grid: 0, cells: new Uint8Array() }, nodule: { grid: 0, cells: new Uint8Array() } },
      timings: { decodeMs: 1, preprocessMs: 1, inferenceMs: 1, postprocessMs: 1 },
    };
    expect(formatResult('x.png', result)).toEqual({
      file: 'x.png',
      model: { name: 'hoichan-cxr', version: 'v', sha256: 'abc' },
      tb: { score: 0.1235, flagged: false },
      nodule: { score: 0.9877, flagged: true },
      lesions: [{ finding: 'nodule', x_min: 1.2, y_min: 4.6, x_max: 7.9, y_max: 10.1, score: 0.5556 }],
    });
  });
});
