/* eslint-disable @typescript-eslint/no-non-null-assertion -- numeric kernel: every index is bounded by its loop or a length check; noUncheckedIndexedAccess types each array read as possibly undefined */
/**
 * Trains the input gate's pixel check (ml/inference/input-gate.ts): P(frontal chest X-ray) from
 * the 512² model input mean-pooled to 32×32, a logistic model fitted here with plain gradient
 * descent (no framework: 1,024 weights).
 *
 *   node dist/ml/gate/train-gate.js [--shared ../shared] [--extra-negatives <dir>...]
 *     → ml/weights/input-gate.json, ml/reports/input-gate.{md,json}
 *
 * Data (every image goes through the product's own decode + preprocessing):
 *   positives  frontal chest X-rays of ../shared/datasets/{tbx11k-tb, cxr-nodules, nih-bbox}, and
 *              their left–right mirror images;
 *   negatives  the non-chest radiographs of ../shared/datasets/dicom-samples (leg, hip, cervical
 *              spine) with crops, flips and rotations; each chest X-ray rotated 90°/180°/270°,
 *              upside down, grey-inverted, or cropped to a part of it; non-radiograph images found
 *              on the machine (--extra-negatives: icons, screenshots, plots, codec test images).
 * Split by source (patient id for NIH, image name otherwise; one file for the rest): 70 % train,
 * 15 % validation (chooses the L2 strength and the threshold: the lowest P that still lets ≥ 99 %
 * of validation frontal chest X-rays through), 15 % test (chooses nothing, reported). The real
 * non-chest radiographs are too few for a split: each is scored by a model trained without it
 * (leave-one-out) and reported separately.
 */
import { createHash } from 'node:crypto';
import { readdirSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { decodeImage, type DecodedImage } from '../decode';
import { GATE_POOL, gateFeatures, type GateModel } from '../inference/input-gate';
import { preprocess } from '../inference/preprocess';

const REPO = path.resolve(__dirname, '..', '..', ...(__dirname.includes(`${path.sep}dist${path.sep}`) ? ['..'] : []));
const N = GATE_POOL * GATE_POOL;

type Split = 'train' | 'val' | 'test';
type Group = 'chest' | 'chest-transformed' | 'non-chest-radiograph' | 'non-radiograph';
interface Sample {
  x: Float64Array;
  y: 0 | 1;
  split: Split;
  group: Group;
  source: string;
  what: string;
}

function args(): { shared: string; extra: string[] } {
  const a = process.argv.slice(2);
  let shared = path.resolve(REPO, '..', 'shared');
  const extra: string[] = [];
  for (let i = 0; i < a.length; i++) {
    if (a[i] === '--shared') shared = path.resolve(a[++i]!);
    else if (a[i] === '--extra-negatives') extra.push(path.resolve(a[++i]!));
  }
  return { shared, extra };
}

function splitOf(key: string): Split {
  const h = createHash('sha256').update(key).digest().readUInt32BE(0) / 2 ** 32;
  return h < 0.7 ? 'train' : h < 0.85 ? 'val' : 'test';
}

// Grid transforms of a pooled 32×32 feature map (exact for square inputs: pooling commutes with them).
const at = (f: Float64Array, r: number, c: number) => f[r * GATE_POOL + c]!;
function mapGrid(f: Float64Array, fn: (r: number, c: number) => number): Float64Array {
  const out = new Float64Array(N);
  for (let r = 0; r < GATE_POOL; r++) for (let c = 0; c < GATE_POOL; c++) out[r * GATE_POOL + c] = fn(r, c);
  return out;
}
const L = GATE_POOL - 1;
const mirror = (f: Float64Array) => mapGrid(f, (r, c) => at(f, r, L - c));
const flipV = (f: Float64Array) => mapGrid(f, (r, c) => at(f, L - r, c));
const rot90 = (f: Float64Array) => mapGrid(f, (r, c) => at(f, L - c, r));
const rot180 = (f: Float64Array) => mapGrid(f, (r, c) => at(f, L - r, L - c));
const rot270 = (f: Float64Array) => mapGrid(f, (r, c) => at(f, c, L - r));
const invert = (f: Float64Array) => f.map((v) => -v);

function features(img: { width: number; height: number; pixels: Float32Array }): Float64Array {
  return gateFeatures(preprocess(img));
}

/** A sub-rectangle of the image (fractions of width/height). */
function crop(img: DecodedImage, fx: number, fy: number, fw: number, fh: number): { width: number; height: number; pixels: Float32Array } {
  const x0 = Math.floor(fx * img.width);
  const y0 = Math.floor(fy * img.height);
  const w = Math.max(2, Math.floor(fw * img.width));
  const h = Math.max(2, Math.floor(fh * img.height));
  const pixels = new Float32Array(w * h);
  for (let y = 0; y < h; y++)
    for (let x = 0; x < w; x++) pixels[y * w + x] = img.pixels[Math.min(img.height - 1, y0 + y) * img.width + Math.min(img.width - 1, x0 + x)]!;
  return { width: w, height: h, pixels };
}

function gamma(img: DecodedImage, g: number): { width: number; height: number; pixels: Float32Array } {
  return { width: img.width, height: img.height, pixels: img.pixels.map((v) => Math.pow(Math.max(0, v), g)) };
}

let seed = 12345;
const rand = () => (seed = (seed * 1103515245 + 12345) & 0x7fffffff) / 0x7fffffff;

function listImages(dir: string): string[] {
  const out: string[] = [];
  const walk = (d: string, depth: number) => {
    let entries: string[];
    try {
      entries = readdirSync(d);
    } catch {
      return;
    }
    for (const e of entries) {
      const p = path.join(d, e);
      let st;
      try {
        st = statSync(p);
      } catch {
        continue;
      }
      if (st.isDirectory() && depth < 8) walk(p, depth + 1);
      else if (st.isFile() && /\.(png|jpe?g)$/i.test(e) && st.size > 1500 && st.size < 8e6) out.push(p);
    }
  };
  walk(dir, 0);
  return out.sort();
}

async function tryDecode(file: string): Promise<DecodedImage | null> {
  try {
    const img = await decodeImage(readFileSync(file));
    return img.width >= 8 && img.height >= 8 ? img : null;
  } catch {
    return null;
  }
}

async function loadChest(shared: string, samples: Sample[]): Promise<void> {
  const sets: { dir: string; key: (name: string) => string }[] = [
    { dir: 'tbx11k-tb', key: (n) => `tbx11k:${n}` },
    { dir: 'cxr-nodules', key: (n) => (n.startsWith('JP') ? `jsrt:${n}` : `nih:${n.split('_')[0]}`) },
    { dir: 'nih-bbox', key: (n) => `nih:${n.split('_')[0]}` },
  ];
  for (const s of sets) {
    const dir = path.join(shared, 'datasets', s.dir, 'images');
    const names = readdirSync(dir)
      .filter((n) => n.endsWith('.png'))
      .sort();
    let i = 0;
    for (const name of names) {
      const img = await tryDecode(path.join(dir, name));
      if (!img) continue;
      const source = s.key(name);
      const split = splitOf(source);
      const f = features(img);
      samples.push({ x: f, y: 1, split, group: 'chest', source, what: `${s.dir} frontal` });
      samples.push({ x: mirror(f), y: 1, split, group: 'chest', source, what: `${s.dir} frontal, mirrored` });
      // One wrong-way-round version of each chest X-ray, cycling through the kinds.
      const kinds: [string, (f: Float64Array) => Float64Array][] = [
        ['rotated 90°', rot90],
        ['rotated 180°', rot180],
        ['rotated 270°', rot270],
        ['upside down', flipV],
        ['grey-inverted', invert],
      ];
      const [label, fn] = kinds[i % kinds.length]!;
      samples.push({ x: fn(f), y: 0, split, group: 'chest-transformed', source, what: `chest ${label}` });
      if (i % 3 === 0) {
        // A part of the chest X-ray (a quarter to a third of it): not a whole frontal chest.
        const fw = 0.3 + 0.25 * rand();
        const fh = 0.3 + 0.25 * rand();
        samples.push({
          x: features(crop(img, rand() * (1 - fw), rand() * (1 - fh), fw, fh)),
          y: 0,
          split,
          group: 'chest-transformed',
          source,
          what: 'chest cropped to a part',
        });
      }
      i++;
    }
    process.stderr.write(`${s.dir}: ${i} images\n`);
  }
}

async function loadNonChestRadiographs(shared: string, samples: Sample[]): Promise<string[]> {
  const files = ['09_RG3_JPLL.dcm', '12_RG2_RLE.dcm', '17_CR_6154_rescale.dcm'];
  const sources: string[] = [];
  for (const name of files) {
    const img = await decodeImage(readFileSync(path.join(shared, 'datasets', 'dicom-samples', name)));
    const source = `dicom-samples:${name}`;
    sources.push(source);
    const variants: [string, { width: number; height: number; pixels: Float32Array }][] = [['whole', img]];
    for (let k = 0; k < 24; k++) {
      const fw = 0.5 + 0.5 * rand();
      const fh = 0.5 + 0.5 * rand();
      variants.push([`crop ${k}`, crop(img, rand() * (1 - fw), rand() * (1 - fh), fw, fh)]);
    }
    for (const g of [0.6, 1.6]) variants.push([`gamma ${g}`, gamma(img, g)]);
    for (const [what, v] of variants) {
      const f = features(v);
      for (const [t, fn] of [
        ['', (x: Float64Array) => x],
        [' mirrored', mirror],
        [' rotated 90°', rot90],
        [' rotated 270°', rot270],
      ] as const) {
        samples.push({ x: fn(f), y: 0, split: 'train', group: 'non-chest-radiograph', source, what: `${name} ${what}${t}` });
      }
    }
  }
  return sources;
}

async function loadNonRadiographs(dirs: string[], samples: Sample[]): Promise<void> {
  let n = 0;
  for (const dir of dirs) {
    for (const file of listImages(dir)) {
      const img = await tryDecode(file);
      if (!img) continue;
      const source = `file:${file}`;
      const f = features(img);
      const split = splitOf(source);
      samples.push({ x: f, y: 0, split, group: 'non-radiograph', source, what: path.basename(file) });
      samples.push({ x: invert(f), y: 0, split, group: 'non-radiograph', source, what: `${path.basename(file)} inverted` });
      n++;
    }
  }
  process.stderr.write(`non-radiograph images: ${n}\n`);
}

interface Fitted {
  mean: Float64Array;
  std: Float64Array;
  w: Float64Array;
  b: number;
}

function fit(train: Sample[], l2: number, epochs = 400): Fitted {
  const mean = new Float64Array(N);
  const std = new Float64Array(N);
  for (const s of train) for (let j = 0; j < N; j++) mean[j]! += s.x[j]!;
  for (let j = 0; j < N; j++) mean[j]! /= train.length;
  for (const s of train) for (let j = 0; j < N; j++) std[j]! += (s.x[j]! - mean[j]!) ** 2;
  for (let j = 0; j < N; j++) std[j] = Math.sqrt(std[j]! / train.length) + 1e-3;
  const xs = train.map((s) => s.x.map((v, j) => (v - mean[j]!) / std[j]!));
  const pos = train.filter((s) => s.y === 1).length;
  const wPos = train.length / (2 * pos);
  const wNeg = train.length / (2 * (train.length - pos));
  const w = new Float64Array(N);
  let b = 0;
  // Adam on the class-balanced mean log loss + l2 ‖w‖².
  const m = new Float64Array(N + 1);
  const v = new Float64Array(N + 1);
  const lr = 0.02;
  const g = new Float64Array(N + 1);
  for (let epoch = 1; epoch <= epochs; epoch++) {
    g.fill(0);
    for (let i = 0; i < xs.length; i++) {
      const x = xs[i]!;
      let z = b;
      for (let j = 0; j < N; j++) z += w[j]! * x[j]!;
      const p = 1 / (1 + Math.exp(-z));
      const y = train[i]!.y;
      const e = (p - y) * (y === 1 ? wPos : wNeg);
      for (let j = 0; j < N; j++) g[j]! += e * x[j]!;
      g[N]! += e;
    }
    for (let j = 0; j <= N; j++) {
      const grad = g[j]! / xs.length + (j < N ? 2 * l2 * w[j]! : 0);
      m[j] = 0.9 * m[j]! + 0.1 * grad;
      v[j] = 0.999 * v[j]! + 0.001 * grad * grad;
      const step = (lr * (m[j]! / (1 - 0.9 ** epoch))) / (Math.sqrt(v[j]! / (1 - 0.999 ** epoch)) + 1e-8);
      if (j < N) w[j]! -= step;
      else b -= step;
    }
  }
  return { mean, std, w, b };
}

function prob(m: Fitted, x: Float64Array): number {
  let z = m.b;
  for (let j = 0; j < N; j++) z += (m.w[j]! * (x[j]! - m.mean[j]!)) / m.std[j]!;
  return 1 / (1 + Math.exp(-z));
}

/** Lowest threshold that lets ≥ 99 % of the chest X-rays through. */
function chooseThreshold(m: Fitted, val: Sample[]): number {
  const ps = val
    .filter((s) => s.y === 1)
    .map((s) => prob(m, s.x))
    .sort((a, b) => a - b);
  const k = Math.floor(0.01 * ps.length);
  return Math.max(0.05, Math.min(0.95, (ps[k] ?? 0.5) - 1e-6));
}

interface Rates {
  n: number;
  passed: number;
  rate: number;
}
function rates(m: Fitted, t: number, set: Sample[]): Rates {
  const passed = set.filter((s) => prob(m, s.x) >= t).length;
  return { n: set.length, passed, rate: set.length ? passed / set.length : NaN };
}

async function main(): Promise<void> {
  const { shared, extra } = args();
  const samples: Sample[] = [];
  await loadChest(shared, samples);
  const radiographSources = await loadNonChestRadiographs(shared, samples);
  await loadNonRadiographs(extra, samples);
  const by = (split: Split) => samples.filter((s) => s.split === split);
  const train = by('train');
  const val = by('val');
  const test = by('test');
  process.stderr.write(`samples: train ${train.length}, val ${val.length}, test ${test.length}\n`);

  // Validation chooses the L2 strength: the one that lets through the fewest validation negatives at its own threshold.
  let best: { l2: number; m: Fitted; t: number; fp: number } | null = null;
  for (const l2 of [1e-4, 1e-3, 1e-2]) {
    const m = fit(train, l2);
    const t = chooseThreshold(m, val);
    const fp = rates(
      m,
      t,
      val.filter((s) => s.y === 0),
    ).rate;
    process.stderr.write(`l2 ${l2}: threshold ${t.toFixed(3)}, validation negatives passed ${(fp * 100).toFixed(2)}%\n`);
    if (!best || fp < best.fp) best = { l2, m, t, fp };
  }
  const { l2, m, t } = best!;

  const groups: Group[] = ['chest', 'chest-transformed', 'non-chest-radiograph', 'non-radiograph'];
  const table: Record<string, Record<string, Rates>> = {};
  for (const [name, set] of [
    ['validation', val],
    ['test', test],
  ] as const) {
    table[name] = {};
    for (const g of groups) {
      const r = rates(
        m,
        t,
        set.filter((s) => s.group === g),
      );
      if (r.n) table[name][g] = r;
    }
  }
  // Leave-one-out over the real non-chest radiographs: trained without it, how much of it passes?
  const loo: Record<string, Rates & { maxP: number }> = {};
  for (const src of radiographSources) {
    const mm = fit(
      train.filter((s) => s.source !== src),
      l2,
    );
    const tt = chooseThreshold(mm, val);
    const held = samples.filter((s) => s.source === src);
    loo[src] = { ...rates(mm, tt, held), maxP: Math.max(...held.map((s) => prob(mm, s.x))) };
  }

  const model: GateModel = {
    schema: 1,
    name: 'input-gate',
    version: new Date().toISOString().slice(0, 10).replaceAll('-', '.') + '-1',
    pool: GATE_POOL,
    mean: Array.from(m.mean, (v) => +v.toPrecision(7)),
    std: Array.from(m.std, (v) => +v.toPrecision(7)),
    weights: Array.from(m.w, (v) => +v.toPrecision(7)),
    bias: +m.b.toPrecision(7),
    threshold: +t.toFixed(4),
  };
  writeFileSync(path.join(REPO, 'ml', 'weights', 'input-gate.json'), `${JSON.stringify(model)}\n`);
  const report = {
    model: { version: model.version, l2, threshold: model.threshold },
    counts: { train: train.length, val: val.length, test: test.length },
    passedAsChest: table,
    leaveOneOut: loo,
  };
  writeFileSync(path.join(REPO, 'ml', 'reports', 'input-gate.json'), `${JSON.stringify(report, null, 1)}\n`);
  const pct = (r: Rates | undefined) => (r ? `${r.passed}/${r.n} (${(r.rate * 100).toFixed(1)} %)` : '—');
  const md = [
    '# Input gate: validation',
    '',
    `Generated by \`node dist/ml/gate/train-gate.js\` (ml/gate/train-gate.ts). Model ${model.version}: logistic, 32×32 pooled model input, L2 ${l2} (chosen on validation), threshold P ≥ ${model.threshold} (the lowest that lets ≥ 99 % of validation frontal chest X-rays through).`,
    '',
    'Images let through as "frontal chest X-ray" (want: chest high, everything else low). Split by patient / source image; the test split chose nothing.',
    '',
    '| group | validation | test |',
    '|---|---|---|',
    ...groups.map((g) => `| ${g} | ${pct(table.validation![g])} | ${pct(table.test![g])} |`),
    '',
    'Real non-chest radiographs (too few to split): each scored by a model trained without it (its crops, flips, rotations, gamma variants).',
    '',
    '| source | passed as chest | highest P |',
    '|---|---|---|',
    ...Object.entries(loo).map(([s, r]) => `| ${s.replace('dicom-samples:', '')} | ${pct(r)} | ${r.maxP.toFixed(3)} |`),
    '',
    'Limits in plain words: only three real non-chest radiographs (leg, hip, cervical spine) were available; no lateral chest views, no paediatric images, no abdomen or skull films. DICOM tags decide first where they are present. The gate keeps a study from being scored; it is not a diagnostic model.',
    '',
  ].join('\n');
  writeFileSync(path.join(REPO, 'ml', 'reports', 'input-gate.md'), md);
  process.stdout.write(md);
}

void main().catch((err: unknown) => {
  console.error(err);
  process.exit(1);
});
