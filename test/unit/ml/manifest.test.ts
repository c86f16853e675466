import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { loadManifest, ManifestError, manifestVersion, parseManifest, sha256 } from '../../../ml/inference/manifest';

const tbBytes = Buffer.from('not really onnx: tb');
const noduleBytes = Buffer.from('not really onnx: nodule');

function model(name: string, finding: string, file: string, bytes: Buffer, version = '2026.11.22') {
  return {
    name,
    finding,
    file,
    version,
    sha256: sha256(bytes),
    outputs: { score: 'score', heatmap: 'heatmap' },
    heatmapStride: 4,
    thresholds: { flag: 0.5, box: 0.4 },
  };
}

function manifest(overrides: Record<string, unknown> = {}) {
  return {
    schema: 1,
    input: { name: 'image', shape: [1, 1, 512, 512], preprocessing: '…' },
    models: [model('tb-lesion', 'tb', 'tb-lesion.onnx', tbBytes), model('nodule', 'nodule', 'nodule.onnx', noduleBytes)],
    report: 'ml/reports/report.md',
    ...overrides,
  };
}

describe('loadManifest', () => {
  let dir: string;
  beforeEach(async () => {
    dir = await mkdtemp(path.join(os.tmpdir(), 'hoichan-manifest-'));
    await writeFile(path.join(dir, 'tb-lesion.onnx'), tbBytes);
    await writeFile(path.join(dir, 'nodule.onnx'), noduleBytes);
  });
  afterEach(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  it('loads a valid manifest with the verified model bytes and the manifest hash', async () => {
    const text = JSON.stringify(manifest(), null, 2);
    await writeFile(path.join(dir, 'manifest.json'), text);
    const loaded = await loadManifest(dir);
    expect(loaded.manifestSha256).toBe(sha256(Buffer.from(text)));
    expect(loaded.version).toBe('2026.11.22');
    expect(loaded.models.map((m) => [m.entry.finding, Buffer.from(m.bytes).toString()])).toEqual([
      ['tb', tbBytes.toString()],
      ['nodule', noduleBytes.toString()],
    ]);
  });

  it('refuses a model whose sha256 does not match', async () => {
    await writeFile(path.join(dir, 'manifest.json'), JSON.stringify(manifest()));
    await writeFile(path.join(dir, 'nodule.onnx'), Buffer.from('tampered'));
    const load = loadManifest(dir);
    await expect(load).rejects.toBeInstanceOf(ManifestError);
    await expect(load).rejects.toThrow(/sha256 mismatch for model "nodule".*refusing to load it/);
  });

  it('reports a missing model file and a missing manifest', async () => {
    await expect(loadManifest(dir)).rejects.toThrow(/cannot read .*manifest\.json/);
    await writeFile(path.join(dir, 'manifest.json'), JSON.stringify(manifest()));
    await rm(path.join(dir, 'tb-lesion.onnx'));
    await expect(loadManifest(dir)).rejects.toThrow(/cannot read model "tb-lesion"/);
  });

  it('rejects malformed JSON', async () => {
    await writeFile(path.join(dir, 'manifest.json'), '{"schema": 1,');
    await expect(loadManifest(dir)).rejects.toThrow(/not valid JSON/);
  });
});

describe('parseManifest', () => {
  it('accepts extra fields', () => {
    expect(parseManifest({ ...manifest(), trainedOn: 'x' }).models).toHaveLength(2);
  });

  it.each([
    ['an unknown schema', { schema: 2 }],
    ['a missing nodule model', { models: [model('tb-lesion', 'tb', 'tb-lesion.onnx', tbBytes)] }],
    ['two tb models', { models: [model('a', 'tb', 'a.onnx', tbBytes), model('b', 'tb', 'b.onnx', tbBytes), model('n', 'nodule', 'n.onnx', noduleBytes)] }],
    ['an unknown finding', { models: [model('x', 'pneumonia', 'x.onnx', tbBytes)] }],
    [
      'a path outside the weights folder',
      { models: [model('tb-lesion', 'tb', '../evil.onnx', tbBytes), model('nodule', 'nodule', 'nodule.onnx', noduleBytes)] },
    ],
    [
      'an empty sha256',
      { models: [{ ...model('tb-lesion', 'tb', 'tb-lesion.onnx', tbBytes), sha256: '' }, model('nodule', 'nodule', 'nodule.onnx', noduleBytes)] },
    ],
    [
      'a threshold above 1',
      {
        models: [
          { ...model('tb-lesion', 'tb', 'tb-lesion.onnx', tbBytes), thresholds: { flag: 1.5, box: 0.4 } },
          model('nodule', 'nodule', 'nodule.onnx', noduleBytes),
        ],
      },
    ],
  ])('rejects %s', (_label, overrides) => {
    expect(() => parseManifest(manifest(overrides))).toThrow(ManifestError);
  });
});

describe('manifestVersion', () => {
  it('prefers an explicit version, then a shared model version, then name@version pairs', () => {
    expect(manifestVersion(parseManifest(manifest({ version: '7' })))).toBe('7');
    expect(manifestVersion(parseManifest(manifest()))).toBe('2026.11.22');
    const mixed = manifest({ models: [model('tb-lesion', 'tb', 't.onnx', tbBytes, '1'), model('nodule', 'nodule', 'n.onnx', noduleBytes, '2')] });
    expect(manifestVersion(parseManifest(mixed))).toBe('tb-lesion@1+nodule@2');
  });
});
