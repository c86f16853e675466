/* eslint-disable @typescript-eslint/no-non-null-assertion -- numeric kernel: every index is bounded by its loop or a length check; noUncheckedIndexedAccess types each array read as possibly undefined */
/**
 * Calibrates the nodule score and chooses its flag threshold on a calibration split, then reports
 * on a test split that chose nothing, per source. Runs the shipped models through the product's
 * own TriageEngine (decode, input gate, preprocessing, onnxruntime).
 *
 *   node dist/ml/calibration/calibrate.js [--shared ../shared] [--write-manifest] [--split-file FILE]
 *     → ml/reports/calibration.{md,json}; with --write-manifest also the nodule entry's
 *       `calibration` in ml/weights/manifest.json
 *
 * --split-file ml/training/splits/nodule_split.csv: for a model trained on JSRT + NIH
 * (ml/training/train_nodule_nih.py), its `calibration` rows calibrate and its `test` rows are
 * reported; its train and validation rows are not used. Its test rows are the test split below.
 * Without it (the model trained on JSRT `train` only):
 *
 * Data and splits (by patient; a hash of the patient id, so the split is fixed and reproducible):
 *   NIH ChestX-ray14  ../shared/datasets/nih-bbox (869 images, never used by any training or
 *                     model selection here): half of its patients → test, half → calibration;
 *                     plus cxr-nodules' NIH images (they chose the shipped checkpoint) → calibration.
 *   JSRT              cxr-nodules' JSRT `val` images only (the `train` ones trained the model):
 *                     half of the patients → calibration, half → test. These still chose the
 *                     checkpoint of the shipped model (not the calibration or the threshold).
 * Positive: nodule_label 1 (nodule or mass). Negative: everything else (no finding, other findings).
 * Calibration: Platt scaling, p = σ(a · logit(raw) + b), fitted by Newton's method on the pooled
 * calibration split. Flag threshold (written rule): the highest calibrated score that still gives
 * ≥ 90 % sensitivity in EACH source of the calibration split (the lower of the two per-source values).
 * TB: there are no TB-negative images, so no TB probability can be calibrated here (see the report).
 */
import { createHash } from 'node:crypto';
import { readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { InputGateError } from '../inference/errors';
import { TriageEngine } from '../inference/triage-engine';

const REPO = path.resolve(__dirname, '..', '..', ...(__dirname.includes(`${path.sep}dist${path.sep}`) ? ['..'] : []));

type Split = 'calibration' | 'test';
interface Item {
  file: string;
  source: 'NIH' | 'JSRT';
  dataset: string;
  patient: string;
  split: Split;
  y: 0 | 1;
  raw?: number;
}

function csv(file: string): Record<string, string>[] {
  const lines = readFileSync(file, 'utf8').trim().split(/\r?\n/);
  const parse = (line: string): string[] => {
    const out: string[] = [];
    let cur = '';
    let q = false;
    for (let i = 0; i < line.length; i++) {
      const ch = line[i]!;
      if (q) {
        if (ch === '"' && line[i + 1] === '"') {
          cur += '"';
          i++;
        } else if (ch === '"') q = false;
        else cur += ch;
      } else if (ch === '"') q = true;
      else if (ch === ',') {
        out.push(cur);
        cur = '';
      } else cur += ch;
    }
    out.push(cur);
    return out;
  };
  const head = parse(lines[0]!);
  return lines.slice(1).map((l) => Object.fromEntries(parse(l).map((v, i) => [head[i]!, v])));
}

const half = (key: string): Split => (createHash('sha256').update(`calibration:${key}`).digest().readUInt32BE(0) % 2 === 0 ? 'calibration' : 'test');
const logit = (p: number) => {
  const q = Math.min(1 - 1e-6, Math.max(1e-6, p));
  return Math.log(q / (1 - q));
};
const sigmoid = (z: number) => 1 / (1 + Math.exp(-z));

/** Platt: minimise the log loss of σ(a x + b) by Newton's method. */
function fitPlatt(xs: number[], ys: number[]): { a: number; b: number } {
  let a = 1;
  let b = 0;
  const loss = (a: number, b: number) =>
    xs.reduce((m, x, i) => {
      const z = a * x + b;
      // log(1 + e^z) - y z, computed stably
      return m + (z > 0 ? z + Math.log1p(Math.exp(-z)) : Math.log1p(Math.exp(z))) - ys[i]! * z;
    }, 0);
  for (let it = 0; it < 200; it++) {
    let ga = 0,
      gb = 0,
      haa = 0,
      hab = 0,
      hbb = 0;
    for (let i = 0; i < xs.length; i++) {
      const p = sigmoid(a * xs[i]! + b);
      const e = p - ys[i]!;
      const w = Math.max(1e-9, p * (1 - p));
      ga += e * xs[i]!;
      gb += e;
      haa += w * xs[i]! * xs[i]!;
      hab += w * xs[i]!;
      hbb += w;
    }
    haa += 1e-6;
    hbb += 1e-6;
    const det = haa * hbb - hab * hab;
    const da = (hbb * ga - hab * gb) / det;
    const db = (haa * gb - hab * ga) / det;
    // Damped Newton: halve the step until the loss does not increase.
    const before = loss(a, b);
    let step = 1;
    while (step > 1e-6 && loss(a - step * da, b - step * db) > before) step /= 2;
    a -= step * da;
    b -= step * db;
    if (Math.abs(step * da) + Math.abs(step * db) < 1e-10) break;
  }
  return { a, b };
}

function auc(y: number[], s: number[]): number {
  const pos = s.filter((_, i) => y[i] === 1);
  const neg = s.filter((_, i) => y[i] === 0);
  let wins = 0;
  for (const p of pos) for (const n of neg) wins += p > n ? 1 : p === n ? 0.5 : 0;
  return wins / (pos.length * neg.length);
}

let seed = 7;
const rand = () => (seed = (seed * 1103515245 + 12345) & 0x7fffffff) / 0x7fffffff;

function bootstrapAuc(y: number[], s: number[], reps = 1000): [number, number] {
  const vals: number[] = [];
  for (let r = 0; r < reps; r++) {
    const yy: number[] = [];
    const ss: number[] = [];
    for (let i = 0; i < y.length; i++) {
      const j = Math.floor(rand() * y.length);
      yy.push(y[j]!);
      ss.push(s[j]!);
    }
    if (yy.includes(1) && yy.includes(0)) vals.push(auc(yy, ss));
  }
  vals.sort((a, b) => a - b);
  return [vals[Math.floor(0.025 * vals.length)]!, vals[Math.floor(0.975 * vals.length)]!];
}

function ece(y: number[], p: number[], bins = 10): number {
  let total = 0;
  for (let b = 0; b < bins; b++) {
    const idx = p
      .map((v, i) => [v, i] as const)
      .filter(([v]) => (b === bins - 1 ? v >= b / bins : v >= b / bins && v < (b + 1) / bins))
      .map(([, i]) => i);
    if (!idx.length) continue;
    const conf = idx.reduce((m, i) => m + p[i]!, 0) / idx.length;
    const acc = idx.reduce((m, i) => m + y[i]!, 0) / idx.length;
    total += (idx.length / p.length) * Math.abs(conf - acc);
  }
  return total;
}

function wilson(k: number, n: number): [number, number] {
  if (n === 0) return [NaN, NaN];
  const z = 1.96;
  const p = k / n;
  const d = 1 + (z * z) / n;
  const c = p + (z * z) / (2 * n);
  const r = z * Math.sqrt((p * (1 - p)) / n + (z * z) / (4 * n * n));
  return [(c - r) / d, (c + r) / d];
}

/** Highest threshold with sensitivity ≥ target among the positives' scores. */
function thresholdForSensitivity(pos: number[], target: number): number {
  const s = [...pos].sort((a, b) => b - a);
  const k = Math.ceil(target * s.length) - 1;
  return s[Math.max(0, k)]!;
}

/** Raw nodule scores of every item through the product's engine (refused by the input gate → left out). */
async function score(items: Item[], notScored: string[]): Promise<void> {
  const engine = await TriageEngine.create({ threads: Number(process.env.HOICHAN_THREADS ?? 1), maxQueue: items.length });
  try {
    await Promise.all(
      items.map(async (it) => {
        try {
          const r = await engine.analyse(readFileSync(it.file), { includeRawOutputs: true });
          it.raw = r.raw!.nodule.score;
        } catch (err) {
          if (err instanceof InputGateError) notScored.push(`${path.basename(it.file)} (${it.dataset})`);
          else throw err;
        }
      }),
    );
  } finally {
    await engine.close();
  }
}

/** The split of the model trained on JSRT `train` only (see the header). */
function defaultItems(shared: string): Item[] {
  const items: Item[] = [];
  const bbox = csv(path.join(shared, 'datasets', 'nih-bbox', 'labels.csv'));
  const nod = csv(path.join(shared, 'datasets', 'cxr-nodules', 'labels.csv'));
  const nodNames = new Set(nod.map((r) => r.image));
  for (const r of bbox) {
    if (nodNames.has(r.image)) continue; // the few images also in cxr-nodules are not "never seen"
    const patient = `NIH:${r.image!.split('_')[0]}`;
    items.push({
      file: path.join(shared, 'datasets', 'nih-bbox', 'images', r.image!),
      source: 'NIH',
      dataset: 'nih-bbox',
      patient,
      split: half(patient),
      y: r.nodule_label === '1' ? 1 : 0,
    });
  }
  const testNihPatients = new Set(items.filter((i) => i.split === 'test').map((i) => i.patient));
  for (const r of nod) {
    if (r.source === 'JSRT') {
      if (r.split !== 'val') continue; // JSRT train images trained the model
      const patient = `JSRT:${r.patient_id}`;
      items.push({
        file: path.join(shared, 'datasets', 'cxr-nodules', 'images', r.image!),
        source: 'JSRT',
        dataset: 'cxr-nodules JSRT val',
        patient,
        split: half(patient),
        y: r.nodule_label === '1' ? 1 : 0,
      });
    } else {
      const patient = `NIH:${r.image!.split('_')[0]}`;
      if (testNihPatients.has(patient)) continue; // never let a test patient into calibration
      items.push({
        file: path.join(shared, 'datasets', 'cxr-nodules', 'images', r.image!),
        source: 'NIH',
        dataset: 'cxr-nodules NIH',
        patient,
        split: 'calibration',
        y: r.nodule_label === '1' ? 1 : 0,
      });
    }
  }
  return items;
}

/** The split written by ml/training (hoichan_ml.data.load_nodule_split): calibration and test rows only. */
function itemsFromSplitFile(file: string, shared: string): Item[] {
  return csv(file)
    .filter((r) => r.split === 'calibration' || r.split === 'test')
    .map((r) => ({
      file: path.join(shared, 'datasets', r.dataset!, 'images', r.image!),
      source: r.source === 'JSRT' ? 'JSRT' : 'NIH',
      dataset: r.dataset === 'nih-bbox' ? 'nih-bbox' : `cxr-nodules ${r.source}`,
      patient: r.patient!,
      split: r.split as Split,
      y: r.nodule_label === '1' ? 1 : 0,
    }));
}

async function main(): Promise<void> {
  const argv = process.argv.slice(2);
  const shared = argv.includes('--shared') ? path.resolve(argv[argv.indexOf('--shared') + 1]!) : path.resolve(REPO, '..', 'shared');
  const writeManifest = argv.includes('--write-manifest');
  const splitArg = argv.indexOf('--split-file');
  const splitFile = splitArg >= 0 ? path.resolve(argv[splitArg + 1]!) : undefined;
  const items = splitFile ? itemsFromSplitFile(splitFile, shared) : defaultItems(shared);

  const cacheArg = argv.indexOf('--scores');
  const cacheFile = cacheArg >= 0 ? path.resolve(argv[cacheArg + 1]!) : undefined;
  const notScored: string[] = [];
  let cached: Record<string, number | null> | undefined;
  try {
    cached = cacheFile ? (JSON.parse(readFileSync(cacheFile, 'utf8')) as Record<string, number | null>) : undefined;
  } catch {
    cached = undefined;
  }
  if (cached) {
    for (const it of items) {
      const v = cached[it.file];
      if (typeof v === 'number') it.raw = v;
      else notScored.push(`${path.basename(it.file)} (${it.dataset})`);
    }
  } else await score(items, notScored);
  if (cacheFile && !cached) writeFileSync(cacheFile, JSON.stringify(Object.fromEntries(items.map((i) => [i.file, i.raw ?? null]))));

  const scored = items.filter((i) => i.raw !== undefined);
  const cal = scored.filter((i) => i.split === 'calibration');
  const test = scored.filter((i) => i.split === 'test');
  const { a, b } = fitPlatt(
    cal.map((i) => logit(i.raw!)),
    cal.map((i) => i.y),
  );
  const p = (i: Item) => sigmoid(a * logit(i.raw!) + b);
  const perSourceThr = (['JSRT', 'NIH'] as const).map((s) => thresholdForSensitivity(cal.filter((i) => i.source === s && i.y === 1).map(p), 0.9));
  const flag = Math.min(...perSourceThr);

  const metrics = (set: Item[]) => {
    const y = set.map((i) => i.y);
    const raw = set.map((i) => i.raw!);
    const cp = set.map(p);
    const pos = set.filter((i) => i.y === 1);
    const neg = set.filter((i) => i.y === 0);
    const tp = pos.filter((i) => p(i) >= flag).length;
    const tn = neg.filter((i) => p(i) < flag).length;
    return {
      n: set.length,
      positives: pos.length,
      negatives: neg.length,
      auc: auc(y, cp),
      aucCi95: bootstrapAuc(y, cp),
      eceRaw: ece(y, raw),
      eceCalibrated: ece(y, cp),
      sensitivity: pos.length ? tp / pos.length : NaN,
      sensitivityCi95: wilson(tp, pos.length),
      specificity: neg.length ? tn / neg.length : NaN,
      specificityCi95: wilson(tn, neg.length),
      meanCalibrated: cp.reduce((m, v) => m + v, 0) / cp.length,
      prevalence: pos.length / set.length,
    };
  };
  const report = {
    generatedBy: `node dist/ml/calibration/calibrate.js${splitFile ? ` --split-file ${path.relative(REPO, splitFile)}` : ''}`,
    model: 'nodule',
    calibration: { method: 'platt', a, b, fittedOn: `calibration split: ${cal.length} images` },
    flagThreshold: flag,
    thresholdRule: '≥ 90 % sensitivity in each source of the calibration split (the lower of the per-source thresholds)',
    perSourceThresholds: { JSRT: perSourceThr[0], NIH: perSourceThr[1] },
    notScoredByGate: notScored,
    splits: {
      calibration: { JSRT: metrics(cal.filter((i) => i.source === 'JSRT')), NIH: metrics(cal.filter((i) => i.source === 'NIH')) },
      test: { JSRT: metrics(test.filter((i) => i.source === 'JSRT')), NIH: metrics(test.filter((i) => i.source === 'NIH')), pooled: metrics(test) },
    },
  };
  writeFileSync(path.join(REPO, 'ml', 'reports', 'calibration.json'), `${JSON.stringify(report, null, 1)}\n`);
  const f = (v: number) => v.toFixed(3);
  const ci = ([lo, hi]: [number, number]) => `${f(lo)}–${f(hi)}`;
  const row = (name: string, m: ReturnType<typeof metrics>) =>
    `| ${name} | ${m.n} (${m.positives}+/${m.negatives}−) | ${f(m.auc)} (${ci(m.aucCi95)}) | ${f(m.eceRaw)} → ${f(m.eceCalibrated)} | ${f(m.sensitivity)} (${ci(m.sensitivityCi95)}) | ${f(m.specificity)} (${ci(m.specificityCi95)}) |`;
  const md = [
    '# Nodule score: calibration and test-split figures',
    '',
    `Generated by \`${report.generatedBy}\` (ml/calibration/calibrate.ts) with the shipped nodule model, through the product's TriageEngine. Platt scaling p = σ(${f(a)} · logit(raw) + ${f(b)}), fitted on the calibration split; flag threshold ${f(flag)} (calibrated), chosen by the rule: ${report.thresholdRule}.`,
    '',
    splitFile
      ? `Splits by patient from \`${path.relative(REPO, splitFile)}\` (ml/training/hoichan_ml/data.py \`load_nodule_split\`): calibration = its calibration rows (a quarter of the patients of JSRT \`train\`, a fifth of the NIH patients outside test); test = its test rows, the same test split as before: half of the patients of \`nih-bbox\` and half of those of JSRT \`val\`. The model was trained on the train rows and its checkpoint chosen on the validation rows; the test rows chose nothing (the model it was initialised from chose its checkpoint partly on the JSRT test patients). Positive = nodule/mass; negative = anything else (NIH negatives are mostly images with other findings).`
      : 'Splits by patient. NIH test = half of the patients of `nih-bbox` (never used for training, checkpoint, calibration or threshold). JSRT test = half of the patients of the JSRT `val` split: it chose nothing here, but it did choose the shipped checkpoint when the model was trained (its `train` images trained the model and are not used). Positive = nodule/mass; negative = anything else (NIH negatives are images with other findings).',
    '',
    '| split / source | images | AUC (95 % CI) | ECE raw → calibrated | sensitivity at flag | specificity at flag |',
    '|---|---|---|---|---|---|',
    row('calibration JSRT', report.splits.calibration.JSRT),
    row('calibration NIH', report.splits.calibration.NIH),
    row('**test JSRT**', report.splits.test.JSRT),
    row('**test NIH**', report.splits.test.NIH),
    row('test pooled', report.splits.test.pooled),
    '',
    `Chest X-rays the input gate refused (not scored, left out above): ${notScored.length}${notScored.length ? ` — ${notScored.slice(0, 10).join(', ')}${notScored.length > 10 ? ', …' : ''}` : ''}.`,
    '',
    'Plain words: one calibration is shared by both sources (a deployed model cannot know the source). The two sources have very different nodule prevalence, so a probability calibrated on their mix is too high for one and too low for the other; the ECE per source shows how far. AUC is unchanged by calibration (a monotone map). TB: there are no TB-negative images in this workspace, so the TB score cannot be turned into a probability of TB; it stays a lesion score, shown with its threshold and never called a probability.',
    '',
  ].join('\n');
  writeFileSync(path.join(REPO, 'ml', 'reports', 'calibration.md'), md);
  process.stdout.write(md);

  if (writeManifest) {
    const file = path.join(REPO, 'ml', 'weights', 'manifest.json');
    const manifest = JSON.parse(readFileSync(file, 'utf8')) as { models: { finding: string; calibration?: unknown }[] };
    const entry = manifest.models.find((m) => m.finding === 'nodule');
    if (!entry) throw new Error('manifest has no nodule model');
    entry.calibration = { method: 'platt', a: +a.toPrecision(8), b: +b.toPrecision(8), flag: +flag.toPrecision(6), report: 'ml/reports/calibration.md' };
    writeFileSync(file, `${JSON.stringify(manifest, null, 2)}\n`);
  }
}

void main().catch((err: unknown) => {
  console.error(err);
  process.exit(1);
});
