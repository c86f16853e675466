/**
 * CXR triage from the command line:
 *
 *   npm run --silent triage -- [--weights <dir>] [--heatmaps <dir>] [--threads <n>] <image files...>
 *
 * Prints one JSON object per input file, in input order, as each becomes available:
 *   {"file","model":{"name","version","sha256"},"tb":{"score","flagged"},"nodule":{"score","flagged"},
 *    "lesions":[{"finding","x_min","y_min","x_max","y_max","score"}]}
 * or {"file","error"} for a file that cannot be read or decoded, or that the input gate refuses (not a
 * frontal chest X-ray: "not scored: …"). Scores are what the clinician sees: the calibrated probability
 * for a model whose manifest entry has a calibration (nodule), else the model's raw score (TB).
 * Exit code: 0 all files analysed, 1 any file (or the model set) failed, 2 usage error.
 */
import { mkdir, readFile, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { renderOverlayPng } from './inference/heatmap-png';
import { TriageEngine, type TriageResult } from './inference/triage-engine';

const USAGE = 'usage: npm run --silent triage -- [--weights <dir>] [--heatmaps <dir>] [--threads <n>] <image files...>';

export interface CliArgs {
  readonly files: readonly string[];
  readonly weightsDir?: string;
  readonly heatmapsDir?: string;
  readonly threads?: number;
}

export class UsageError extends Error {
  override readonly name = 'UsageError';
}

export function parseArgs(argv: readonly string[]): CliArgs {
  const files: string[] = [];
  let weightsDir: string | undefined;
  let heatmapsDir: string | undefined;
  let threads: number | undefined;
  let onlyFiles = false;
  for (let i = 0; i < argv.length; i++) {
    // eslint-disable-next-line @typescript-eslint/no-non-null-assertion -- the index is within bounds of the loop over the same array
    const arg = argv[i]!;
    if (onlyFiles || !arg.startsWith('-') || arg === '-') {
      files.push(arg);
      continue;
    }
    const [flag, inline] = arg.startsWith('--') && arg.includes('=') ? [arg.slice(0, arg.indexOf('=')), arg.slice(arg.indexOf('=') + 1)] : [arg, undefined];
    const value = (): string => {
      const v = inline ?? argv[++i];
      if (v === undefined || v === '') throw new UsageError(`${flag} needs a value`);
      return v;
    };
    switch (flag) {
      case '--':
        onlyFiles = true;
        break;
      case '--weights':
        weightsDir = value();
        break;
      case '--heatmaps':
        heatmapsDir = value();
        break;
      case '--threads': {
        const v = value();
        threads = Number(v);
        if (!Number.isInteger(threads) || threads < 1) throw new UsageError(`--threads must be a positive integer, got "${v}"`);
        break;
      }
      default:
        throw new UsageError(`unknown option ${arg}`);
    }
  }
  if (files.length === 0) throw new UsageError('no image files given');
  return {
    files,
    ...(weightsDir !== undefined ? { weightsDir } : {}),
    ...(heatmapsDir !== undefined ? { heatmapsDir } : {}),
    ...(threads !== undefined ? { threads } : {}),
  };
}

const round = (value: number, digits: number): number => {
  const f = 10 ** digits;
  return Math.round(value * f) / f;
};

/** The CLI's stable line format (coordinates 1 decimal, scores 4 decimals). */
export function formatResult(file: string, result: TriageResult): Record<string, unknown> {
  return {
    file,
    model: { name: result.model.name, version: result.model.version, sha256: result.model.sha256 },
    tb: { score: round(result.tb.score, 4), flagged: result.tb.flagged },
    nodule: { score: round(result.nodule.score, 4), flagged: result.nodule.flagged },
    lesions: result.lesions.map((l) => ({
      finding: l.finding,
      x_min: round(l.x_min, 1),
      y_min: round(l.y_min, 1),
      x_max: round(l.x_max, 1),
      y_max: round(l.y_max, 1),
      score: round(l.score, 4),
    })),
  };
}

function describeError(err: unknown): string {
  if (!(err instanceof Error)) return String(err);
  const code = (err as { code?: unknown }).code;
  if (typeof code === 'string') return `${err.name} (${code}): ${err.message}`;
  return err.name === 'Error' ? err.message : `${err.name}: ${err.message}`;
}

/** Distinct overlay names even when two inputs share a base name. */
function heatmapStems(files: readonly string[]): string[] {
  const seen = new Set<string>();
  return files.map((file, i) => {
    const base = path.basename(file, path.extname(file)) || 'image';
    const stem = seen.has(base) ? `${base}-${i + 1}` : base;
    seen.add(stem);
    return stem;
  });
}

export async function main(argv: readonly string[], out: NodeJS.WritableStream = process.stdout, err: NodeJS.WritableStream = process.stderr): Promise<number> {
  let args: CliArgs;
  try {
    args = parseArgs(argv);
  } catch (e) {
    if (!(e instanceof UsageError)) throw e;
    err.write(`${e.message}\n${USAGE}\n`);
    return 2;
  }

  let engine: TriageEngine;
  try {
    engine = await TriageEngine.create({
      ...(args.weightsDir !== undefined ? { weightsDir: args.weightsDir } : {}),
      ...(args.threads !== undefined ? { threads: args.threads } : {}),
    });
  } catch (e) {
    err.write(`cannot load the triage models: ${describeError(e)}\n`);
    return 1;
  }

  const stems = heatmapStems(args.files);
  let failures = 0;
  const analyseFile = async (i: number): Promise<Record<string, unknown>> => {
    // eslint-disable-next-line @typescript-eslint/no-non-null-assertion -- the index is within bounds of the loop over the same array
    const file = args.files[i]!;
    try {
      let bytes: Buffer;
      try {
        bytes = await readFile(file);
      } catch (e) {
        throw new Error(`cannot read file: ${(e as Error).message}`, { cause: e });
      }
      const result = await engine.analyse(bytes, { transfer: true });
      if (args.heatmapsDir !== undefined) {
        // eslint-disable-next-line @typescript-eslint/no-non-null-assertion -- the index is within bounds of the loop over the same array
        const stem = path.join(args.heatmapsDir, stems[i]!);
        const { width, height } = result.image;
        await writeFile(`${stem}.tb.png`, renderOverlayPng(result.heatmaps.tb, width, height));
        await writeFile(`${stem}.nodule.png`, renderOverlayPng(result.heatmaps.nodule, width, height));
      }
      return formatResult(file, result);
    } catch (e) {
      failures++;
      return { file, error: describeError(e) };
    }
  };

  try {
    if (args.heatmapsDir !== undefined) await mkdir(args.heatmapsDir, { recursive: true });
    // A sliding window keeps every worker busy without reading all files into memory at once;
    // it stays within the engine's queue limit, and lines still come out in input order.
    const window = Math.min(engine.threads * 2, engine.threads + engine.maxQueue);
    const lines: Promise<Record<string, unknown>>[] = [];
    const startNext = (): void => {
      if (lines.length < args.files.length) lines.push(analyseFile(lines.length));
    };
    while (lines.length < Math.min(window, args.files.length)) startNext();
    for (let i = 0; i < args.files.length; i++) {
      // eslint-disable-next-line @typescript-eslint/no-non-null-assertion -- the index is within bounds of the loop over the same array
      out.write(`${JSON.stringify(await lines[i]!)}\n`);
      startNext();
    }
  } finally {
    await engine.close();
  }
  return failures > 0 ? 1 : 0;
}

if (require.main === module) {
  main(process.argv.slice(2)).then(
    (code) => {
      process.exitCode = code;
    },
    (e: unknown) => {
      process.stderr.write(`triage failed: ${describeError(e)}\n`);
      process.exitCode = 1;
    },
  );
}
