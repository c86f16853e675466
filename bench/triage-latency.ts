/**
 * CXR triage latency and throughput.
 *
 *   npx tsc -p tsconfig.build.json && node dist/bench/triage-latency.js [--weights <dir>] [--rounds <n>] [--jobs <n>] [--intra-op <n>] [image files...]
 *
 * --intra-op: ORT intra-op threads per session for every engine here (default: the engine's, cores / workers).
 *
 * 1. Per-image latency with one worker thread, images one at a time (decode + preprocess + both
 *    models + boxes and heatmap grids), p50/p95 of the round trip and of each stage, for all images
 *    and for the 512×512 PNGs alone (the common upload); "messaging" is the round trip less the
 *    stages (posting the image in and the result out, waking the worker).
 * 2. The overlay PNG of a heatmap grid, rendered once per finding on its first read (not per image triaged).
 * 3. Throughput (images/s) with 1 and 2 worker threads, `--jobs` images submitted at once,
 *    and the main event loop's lag (p50/p99/max) meanwhile.
 * Default images: test/fixtures/cxr/* plus the largest DICOM in test/fixtures/dicom.
 * Prints a table, then one JSON line.
 */
import { existsSync, readdirSync, readFileSync, statSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { monitorEventLoopDelay, performance } from 'node:perf_hooks';
import { renderOverlayPng } from '../ml/inference/heatmap-png';
import { TriageEngine, type HeatmapGrid, type TriageEngineOptions, type TriageTimings } from '../ml/inference/triage-engine';

interface BenchArgs {
  weightsDir?: string;
  rounds: number;
  jobs: number;
  intraOp?: number;
  files: string[];
}

function repoRoot(): string {
  let dir = __dirname;
  while (!existsSync(path.join(dir, 'package.json'))) {
    const up = path.dirname(dir);
    if (up === dir) throw new Error('cannot find the repository root (package.json)');
    dir = up;
  }
  return dir;
}

function parseArgs(argv: string[]): BenchArgs {
  const args: BenchArgs = { rounds: 3, jobs: 16, files: [] };
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i]!;
    const next = (): string => {
      const v = argv[++i];
      if (v === undefined) throw new Error(`${a} needs a value`);
      return v;
    };
    if (a === '--weights') args.weightsDir = next();
    else if (a === '--rounds') args.rounds = Number(next());
    else if (a === '--jobs') args.jobs = Number(next());
    else if (a === '--intra-op') args.intraOp = Number(next());
    else args.files.push(a);
  }
  if (!(args.rounds >= 1 && args.jobs >= 1)) throw new Error('--rounds and --jobs must be ≥ 1');
  return args;
}

function defaultImages(root: string): string[] {
  const cxr = path.join(root, 'test', 'fixtures', 'cxr');
  const files = existsSync(cxr)
    ? readdirSync(cxr)
        .filter((f) => /\.(png|jpe?g|dcm)$/i.test(f))
        .sort()
        .map((f) => path.join(cxr, f))
    : [];
  const dicomDir = path.join(root, 'test', 'fixtures', 'dicom');
  if (existsSync(dicomDir)) {
    const largest = readdirSync(dicomDir)
      .filter((f) => f.endsWith('.dcm') && !f.includes('BROKEN'))
      .map((f) => path.join(dicomDir, f))
      .sort((a, b) => statSync(b).size - statSync(a).size)[0];
    if (largest) files.push(largest);
  }
  return files;
}

function percentile(values: readonly number[], p: number): number {
  if (values.length === 0) return NaN;
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.min(sorted.length - 1, Math.max(0, Math.ceil((p / 100) * sorted.length) - 1))]!;
}

const ms = (v: number): string => (Number.isFinite(v) ? v.toFixed(1) : '-');
const round1 = (v: number): number => Math.round(v * 10) / 10;

interface Image {
  readonly file: string;
  readonly bytes: Uint8Array;
}

type BaseOptions = Pick<TriageEngineOptions, 'weightsDir' | 'intraOpThreads'>;

interface Sample {
  readonly file: string;
  /** A 512×512 PNG: the size and format most uploads come as. */
  readonly png512: boolean;
  readonly totalMs: number;
  readonly timings: TriageTimings;
}

async function latency(images: readonly Image[], base: BaseOptions, rounds: number) {
  const engine = await TriageEngine.create({ ...base, threads: 1 });
  try {
    const usable: Image[] = [];
    for (const image of images) {
      // Warm-up pass, which also drops files the decoder rejects.
      try {
        await engine.analyse(image.bytes);
        usable.push(image);
      } catch (err) {
        process.stderr.write(`skipping ${image.file}: ${(err as Error).message}\n`);
      }
    }
    const samples: Sample[] = [];
    const sizes: string[] = [];
    const grids: { heatmap: HeatmapGrid; width: number; height: number }[] = [];
    for (let r = 0; r < rounds; r++) {
      for (const image of usable) {
        const t0 = performance.now();
        const result = await engine.analyse(image.bytes);
        const totalMs = performance.now() - t0;
        const { width, height, format } = result.image;
        samples.push({ file: image.file, png512: format === 'png' && width === 512 && height === 512, totalMs, timings: result.timings });
        if (r === 0) {
          sizes.push(`${path.basename(image.file)} ${width}×${height} ${format}`);
          grids.push({ heatmap: result.heatmaps.tb, width, height }, { heatmap: result.heatmaps.nodule, width, height });
        }
      }
    }
    return { usable, sizes, samples, grids, model: engine.model, intraOpThreads: engine.intraOpThreads };
  } finally {
    await engine.close();
  }
}

/** What the first read of an overlay costs (in the preview worker on a server): render one grid to PNG. */
function overlayRender(grids: readonly { heatmap: HeatmapGrid; width: number; height: number }[], rounds: number): number[] {
  for (const g of grids) renderOverlayPng(g.heatmap, g.width, g.height); // warm-up
  const times: number[] = [];
  for (let r = 0; r < rounds; r++) {
    for (const g of grids) {
      const t0 = performance.now();
      renderOverlayPng(g.heatmap, g.width, g.height);
      times.push(performance.now() - t0);
    }
  }
  return times;
}

type Row = [key: string, label: string, p50: number, p95: number];

/** The round trip and its stages over some samples. */
function latencyRows(samples: readonly Sample[], title: string): Row[] {
  const row = (key: string, label: string, values: number[]): Row => [key, label, percentile(values, 50), percentile(values, 95)];
  const stage = (key: keyof TriageTimings) => samples.map((s) => s.timings[key]);
  const rest = samples.map((s) => s.totalMs - s.timings.decodeMs - s.timings.preprocessMs - s.timings.inferenceMs - s.timings.postprocessMs);
  return [
    row(
      'total',
      `${title} (1 worker)`,
      samples.map((s) => s.totalMs),
    ),
    row('decode', '  decode', stage('decodeMs')),
    row('preprocess', '  preprocess + input gate', stage('preprocessMs')),
    row('inference', '  inference (both models)', stage('inferenceMs')),
    row('postprocess', '  boxes, flags, heatmap grids', stage('postprocessMs')),
    row('messaging', '  messaging (rest)', rest),
  ];
}

async function throughput(images: readonly Image[], base: BaseOptions, threads: number, jobs: number) {
  const engine = await TriageEngine.create({ ...base, threads, maxQueue: jobs });
  try {
    await Promise.all(Array.from({ length: threads }, (_, i) => engine.analyse(images[i % images.length]!.bytes)));
    const lag = monitorEventLoopDelay({ resolution: 10 });
    lag.enable();
    const t0 = performance.now();
    await Promise.all(Array.from({ length: jobs }, (_, i) => engine.analyse(images[i % images.length]!.bytes)));
    const seconds = (performance.now() - t0) / 1000;
    lag.disable();
    // The histogram reports delay in ns, including the 10 ms sampling interval itself.
    const lagMs = (ns: number) => Math.max(0, ns / 1e6 - 10);
    return {
      threads,
      jobs,
      seconds,
      intraOpThreads: engine.intraOpThreads,
      imagesPerSecond: jobs / seconds,
      lag: { p50: lagMs(lag.percentile(50)), p99: lagMs(lag.percentile(99)), max: lagMs(lag.max) },
    };
  } finally {
    await engine.close();
  }
}

async function main(): Promise<void> {
  const args = parseArgs(process.argv.slice(2));
  const files = args.files.length > 0 ? args.files : defaultImages(repoRoot());
  if (files.length === 0) throw new Error('no images: pass image files or add test/fixtures/cxr');
  const images = files.map((file) => ({ file, bytes: new Uint8Array(readFileSync(file)) }));

  const base: BaseOptions = { ...(args.weightsDir ? { weightsDir: args.weightsDir } : {}), ...(args.intraOp ? { intraOpThreads: args.intraOp } : {}) };
  const lat = await latency(images, base, args.rounds);
  if (lat.usable.length === 0) throw new Error('no image could be analysed');
  const overlayMs = overlayRender(lat.grids, args.rounds);
  const runs = [];
  for (const threads of [1, 2]) runs.push(await throughput(lat.usable, base, threads, args.jobs));

  const cpus = os.cpus();
  const mixed = latencyRows(lat.samples, 'round trip, all images');
  const png512Samples = lat.samples.filter((s) => s.png512);
  const png512 = png512Samples.length > 0 ? latencyRows(png512Samples, 'round trip, 512² PNG') : [];
  const overlay: Row = ['overlay', 'overlay PNG, first read (each)', percentile(overlayMs, 50), percentile(overlayMs, 95)];
  const out = process.stdout;
  out.write(
    `CXR triage bench: ${lat.model.name} ${lat.model.version} (${lat.model.sha256.slice(0, 12)}), node ${process.version}, ${cpus.length}× ${cpus[0]?.model ?? 'cpu'}, load ${os.loadavg()[0]!.toFixed(2)}\n`,
  );
  out.write(
    `images (${lat.usable.length}, ${args.rounds} rounds = ${lat.samples.length} samples, ${png512Samples.length} of them 512² PNG): ${lat.sizes.join('; ')}\n\n`,
  );
  out.write(`${'latency'.padEnd(34)}${'p50 ms'.padStart(10)}${'p95 ms'.padStart(10)}\n`);
  for (const [, label, p50, p95] of [...mixed, ...png512, overlay]) out.write(`${label.padEnd(34)}${ms(p50).padStart(10)}${ms(p95).padStart(10)}\n`);
  out.write(
    `\n${'throughput'.padEnd(16)}${'intra-op'.padStart(10)}${'images/s'.padStart(10)}${'lag p50'.padStart(10)}${'lag p99'.padStart(10)}${'lag max'.padStart(10)}\n`,
  );
  for (const r of runs) {
    out.write(
      `${`${r.threads} worker(s)`.padEnd(16)}${String(r.intraOpThreads).padStart(10)}${r.imagesPerSecond.toFixed(2).padStart(10)}${ms(r.lag.p50).padStart(10)}${ms(r.lag.p99).padStart(10)}${ms(r.lag.max).padStart(10)}\n`,
    );
  }
  const speedup = runs[1]!.imagesPerSecond / runs[0]!.imagesPerSecond;
  out.write(`\n2 vs 1 worker: ×${speedup.toFixed(2)}\n`);

  const figures = (rows: readonly Row[]) => Object.fromEntries(rows.map(([key, , p50, p95]) => [key, { p50: round1(p50), p95: round1(p95) }]));
  out.write(
    `${JSON.stringify({
      bench: 'triage-latency',
      model: { name: lat.model.name, version: lat.model.version, sha256: lat.model.sha256 },
      cpus: cpus.length,
      loadavg1: round1(os.loadavg()[0]!),
      images: lat.usable.length,
      samples: lat.samples.length,
      intraOpThreads: lat.intraOpThreads,
      latencyMs: figures(mixed),
      png512: { samples: png512Samples.length, latencyMs: figures(png512) },
      overlayFirstReadMs: figures([overlay]).overlay,
      throughput: runs.map((r) => ({
        threads: r.threads,
        intraOpThreads: r.intraOpThreads,
        jobs: r.jobs,
        imagesPerSecond: Math.round(r.imagesPerSecond * 100) / 100,
        eventLoopLagMs: { p50: round1(r.lag.p50), p99: round1(r.lag.p99), max: round1(r.lag.max) },
      })),
      speedup2v1: Math.round(speedup * 100) / 100,
    })}\n`,
  );
}

main().catch((err: unknown) => {
  process.stderr.write(`bench failed: ${(err as Error).stack ?? String(err)}\n`);
  process.exitCode = 1;
});
