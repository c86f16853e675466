/** `npm run triage` = node dist/ml/cli.js, from the compiled output. */
import { execFileSync, spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { PNG } from 'pngjs';
import { sha256 } from '../../../ml/inference/manifest';
import { cxrFixtures, REPO, WEIGHTS_DIR } from './helpers';

// Generous: model start-up and inference share 2 cores with training jobs.
jest.setTimeout(180_000);

const CLI = path.join(REPO, 'dist', 'ml', 'cli.js');
const SOURCES = [path.join(REPO, 'ml', 'cli.ts'), path.join(REPO, 'ml', 'inference'), path.join(REPO, 'ml', 'decode')];

function newestMtime(p: string): number {
  const st = statSync(p);
  if (!st.isDirectory()) return st.mtimeMs;
  return Math.max(st.mtimeMs, ...readdirSync(p).map((f) => newestMtime(path.join(p, f))));
}

/** Rebuilds dist/ when the ML sources are newer than dist/ml/cli.js. */
function ensureBuilt(): void {
  if (existsSync(CLI) && statSync(CLI).mtimeMs >= Math.max(...SOURCES.filter(existsSync).map(newestMtime))) return;
  const tsc = spawnSync(process.execPath, [require.resolve('typescript/bin/tsc'), '-p', 'tsconfig.build.json'], { cwd: REPO, encoding: 'utf8' });
  // tsc still emits when unrelated files fail to type-check; only a missing or stale CLI is fatal here.
  if (!existsSync(CLI) || statSync(CLI).mtimeMs < Math.max(...SOURCES.filter(existsSync).map(newestMtime))) {
    throw new Error(`tsc -p tsconfig.build.json did not produce ${CLI}:\n${tsc.stdout}${tsc.stderr}`);
  }
}

interface CliRun {
  readonly status: number | null;
  readonly lines: Record<string, unknown>[];
  readonly stderr: string;
}

function runCli(args: string[]): CliRun {
  const run = spawnSync(process.execPath, [CLI, ...args], { cwd: REPO, encoding: 'utf8', timeout: 120_000 });
  const lines = run.stdout
    .split('\n')
    .filter((l) => l.length > 0)
    .map((l) => JSON.parse(l) as Record<string, unknown>);
  return { status: run.status, lines, stderr: run.stderr };
}

const decimals = (n: number): number => (String(n).split('.')[1] ?? '').length;

describe('triage CLI (compiled)', () => {
  let tmp: string;
  const [first, second] = cxrFixtures();

  beforeAll(() => {
    ensureBuilt();
    tmp = mkdtempSync(path.join(os.tmpdir(), 'hoichan-cli-'));
  });
  afterAll(() => rmSync(tmp, { recursive: true, force: true }));

  it('prints one contract line per file in input order; a garbage file gives {file, error} and exit 1', () => {
    expect(first && second).toBeTruthy();
    const garbage = path.join(tmp, 'garbage.png');
    writeFileSync(garbage, 'definitely not a PNG');
    const heatmaps = path.join(tmp, 'heatmaps');
    const run = runCli(['--weights', WEIGHTS_DIR, '--heatmaps', heatmaps, first!, garbage, second!]);

    expect(run.status).toBe(1);
    expect(run.lines.map((l) => l.file)).toEqual([first, garbage, second]);
    const manifestSha = sha256(readFileSync(path.join(WEIGHTS_DIR, 'manifest.json')));
    for (const line of [run.lines[0]!, run.lines[2]!]) {
      expect(Object.keys(line)).toEqual(['file', 'model', 'tb', 'nodule', 'lesions']);
      expect(line.model).toEqual({ name: 'hoichan-cxr', version: expect.any(String), sha256: manifestSha });
      for (const finding of ['tb', 'nodule'] as const) {
        const f = line[finding] as { score: number; flagged: boolean };
        expect(Object.keys(f)).toEqual(['score', 'flagged']);
        expect(f.score).toBeGreaterThanOrEqual(0);
        expect(f.score).toBeLessThanOrEqual(1);
        expect(decimals(f.score)).toBeLessThanOrEqual(4);
        expect(typeof f.flagged).toBe('boolean');
      }
      for (const l of line.lesions as Record<string, number | string>[]) {
        expect(Object.keys(l)).toEqual(['finding', 'x_min', 'y_min', 'x_max', 'y_max', 'score']);
        expect(['tb', 'nodule']).toContain(l.finding);
        for (const k of ['x_min', 'y_min', 'x_max', 'y_max']) expect(decimals(l[k] as number)).toBeLessThanOrEqual(1);
        expect(decimals(l.score as number)).toBeLessThanOrEqual(4);
      }
    }
    expect(Object.keys(run.lines[1]!)).toEqual(['file', 'error']);
    expect(run.lines[1]!.error).toMatch(/ImageDecodeError/);

    const written = readdirSync(heatmaps).sort();
    const stem = (f: string) => path.basename(f, path.extname(f));
    expect(written).toEqual([`${stem(first!)}.nodule.png`, `${stem(first!)}.tb.png`, `${stem(second!)}.nodule.png`, `${stem(second!)}.tb.png`].sort());
    const overlay = PNG.sync.read(readFileSync(path.join(heatmaps, written[0]!)));
    expect(overlay.width).toBeGreaterThan(0);
  });

  it('exits 0 when every file succeeds and reports an unreadable file without stopping', () => {
    const ok = runCli(['--weights', WEIGHTS_DIR, first!]);
    expect(ok.status).toBe(0);
    expect(ok.lines).toHaveLength(1);
    const missing = path.join(tmp, 'does-not-exist.png');
    const partial = runCli(['--weights', WEIGHTS_DIR, missing, first!]);
    expect(partial.status).toBe(1);
    expect(partial.lines[0]).toEqual({ file: missing, error: expect.stringMatching(/cannot read file/) });
    expect(partial.lines[1]).toEqual(ok.lines[0]);
  });

  it('an engine that is never closed does not keep the process alive once idle', () => {
    const engineJs = path.join(REPO, 'dist', 'ml', 'inference', 'triage-engine.js');
    const script = `
      const { TriageEngine } = require(${JSON.stringify(engineJs)});
      const bytes = require('node:fs').readFileSync(${JSON.stringify(first)});
      TriageEngine.create({ weightsDir: ${JSON.stringify(WEIGHTS_DIR)} })
        .then((engine) => engine.analyse(bytes))
        .then((result) => console.log(result.tb.score));
    `;
    const run = spawnSync(process.execPath, ['-e', script], { encoding: 'utf8', timeout: 120_000 });
    expect(run.signal).toBeNull();
    expect(run.status).toBe(0);
    expect(Number(run.stdout.trim())).toBeGreaterThanOrEqual(0);
  });

  it('exits 2 on usage errors', () => {
    expect(runCli([]).status).toBe(2);
    expect(runCli(['--bogus', first!]).status).toBe(2);
  });

  it('runs as `npm run --silent triage`', () => {
    const out = execFileSync('npm', ['run', '--silent', 'triage', '--', '--weights', WEIGHTS_DIR, first!], { cwd: REPO, encoding: 'utf8' });
    expect(JSON.parse(out.trim())).toMatchObject({ file: first, model: { name: 'hoichan-cxr' } });
  });
});
