/**
 * Shared EMR: FHIR Bundle import throughput and $summary latency.
 *
 *   npx tsc -p tsconfig.build.json && node dist/bench/fhir-import.js [--patients <n>] [--encounters <n>] [--import-concurrency <n>] [--requests <n>] [--concurrency <n>]
 *
 * Starts the real platform (embedded FerretDB in a temporary data folder, demo accounts), imports
 * `--patients` Synthea-shaped transaction Bundles (test/fixtures/fhir/synthea-bundle.ts) over HTTP
 * as the district referrer, `--import-concurrency` at a time, then issues `--requests` GET
 * Patient/{id}/$summary at a fixed `--concurrency`. Every request is audited, as in production.
 * Prints a table, then one JSON line.
 */
import { rmSync } from 'node:fs';
import os from 'node:os';
import { performance } from 'node:perf_hooks';
import { benchConfig } from './bench-platform';
import { startPlatform } from '../server/main';
import { createLogger } from '../server/observability/logger';
import { syntheaTransactionBundle } from '../test/fixtures/fhir/synthea-bundle';

interface Args {
  patients: number;
  encounters: number;
  importConcurrency: number;
  requests: number;
  concurrency: number;
}

function parseArgs(argv: string[]): Args {
  const args: Args = { patients: 6, encounters: 40, importConcurrency: 2, requests: 200, concurrency: 8 };
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i] ?? '';
    const v = Number(argv[++i]);
    if (!Number.isInteger(v) || v < 1) throw new Error(`${a} needs a positive integer`);
    if (a === '--patients') args.patients = v;
    else if (a === '--encounters') args.encounters = v;
    else if (a === '--import-concurrency') args.importConcurrency = v;
    else if (a === '--requests') args.requests = v;
    else if (a === '--concurrency') args.concurrency = v;
    else throw new Error(`unknown argument ${a}`);
  }
  return args;
}

function percentile(sorted: number[], p: number): number {
  if (!sorted.length) return NaN;
  const i = Math.min(sorted.length - 1, Math.max(0, Math.ceil((p / 100) * sorted.length) - 1));
  return sorted[i] ?? NaN;
}

async function pool<T>(items: T[], concurrency: number, fn: (item: T) => Promise<void>): Promise<void> {
  let next = 0;
  await Promise.all(
    Array.from({ length: Math.min(concurrency, items.length) }, async () => {
      while (next < items.length) {
        const item = items[next++] as T;
        await fn(item);
      }
    }),
  );
}

async function main(): Promise<void> {
  const args = parseArgs(process.argv.slice(2));
  const { config, dataDir, password } = benchConfig('fhir');
  const platform = await startPlatform(config, createLogger(process.env.BENCH_LOG_LEVEL ?? 'silent'));
  try {
    const call = async (method: string, pathname: string, token?: string, body?: unknown) => {
      const res = await fetch(`${platform.url}${pathname}`, {
        method,
        headers: { ...(token ? { authorization: `Bearer ${token}` } : {}), ...(body ? { 'content-type': 'application/fhir+json' } : {}) },
        body: body ? JSON.stringify(body) : undefined,
      });
      const json = (await res.json()) as Record<string, unknown>;
      if (!res.ok) throw new Error(`${method} ${pathname} → ${res.status}: ${JSON.stringify(json).slice(0, 300)}`);
      return json;
    };
    const login = (await call('POST', '/api/auth/login', undefined, { email: 'referrer@district.demo', password })) as { accessToken: string };
    const token = login.accessToken;
    // warm-up: compile the validators and search-parameter table once (one small bundle)
    await call('POST', '/fhir/R4', token, syntheaTransactionBundle({ seed: 999, encounters: 2, citizenId: '099000000000' }).bundle);

    const bundles = Array.from({ length: args.patients }, (_, i) =>
      syntheaTransactionBundle({ seed: i + 1, encounters: args.encounters, citizenId: `0010900${String(i).padStart(5, '0')}` }),
    );
    const patientIds: string[] = [];
    const perBundleMs: number[] = [];
    let resources = 0;
    const t0 = performance.now();
    await pool(bundles, args.importConcurrency, async ({ bundle }) => {
      const s = performance.now();
      const out = (await call('POST', '/fhir/R4', token, bundle)) as { entry: { fullUrl: string }[] };
      perBundleMs.push(performance.now() - s);
      resources += out.entry.length;
      patientIds.push(out.entry[0]?.fullUrl.split('/')[1] ?? '');
    });
    const importS = (performance.now() - t0) / 1000;

    const latencies: number[] = [];
    const requests = Array.from({ length: args.requests }, (_, i) => patientIds[i % patientIds.length] ?? '');
    const t1 = performance.now();
    await pool(requests, args.concurrency, async (id) => {
      const s = performance.now();
      await call('GET', `/fhir/R4/Patient/${id}/$summary`, token);
      latencies.push(performance.now() - s);
    });
    const summaryS = (performance.now() - t1) / 1000;
    latencies.sort((a, b) => a - b);
    perBundleMs.sort((a, b) => a - b);

    const result = {
      bench: 'fhir-import',
      database: 'embedded FerretDB (SQLite)',
      cpus: os.cpus().length,
      patients: args.patients,
      resourcesPerBundle: bundles[0]?.expect.resources ?? 0,
      importConcurrency: args.importConcurrency,
      resourcesImported: resources,
      importSeconds: Number(importS.toFixed(2)),
      importResourcesPerSecond: Number((resources / importS).toFixed(1)),
      bundleMsP50: Math.round(percentile(perBundleMs, 50)),
      summaryRequests: args.requests,
      summaryConcurrency: args.concurrency,
      summaryMsP50: Number(percentile(latencies, 50).toFixed(1)),
      summaryMsP99: Number(percentile(latencies, 99).toFixed(1)),
      summaryPerSecond: Number((args.requests / summaryS).toFixed(1)),
    };
    const rows: [string, string][] = [
      ['Bundles imported', `${args.patients} × ${result.resourcesPerBundle} resources (${args.importConcurrency} at a time)`],
      ['Import throughput', `${result.importResourcesPerSecond} resources/s (${result.resourcesImported} in ${result.importSeconds} s)`],
      ['One Bundle, p50', `${result.bundleMsP50} ms`],
      [`$summary latency @ concurrency ${args.concurrency}`, `p50 ${result.summaryMsP50} ms, p99 ${result.summaryMsP99} ms`],
      ['$summary throughput', `${result.summaryPerSecond} req/s over ${args.requests} requests`],
    ];
    const w = Math.max(...rows.map((r) => r[0].length));
    process.stdout.write(`\nShared EMR bench (${result.database}, ${result.cpus} CPUs)\n`);
    for (const [k, v] of rows) process.stdout.write(`  ${k.padEnd(w)}  ${v}\n`);
    process.stdout.write(`${JSON.stringify(result)}\n`);
  } finally {
    await platform.close();
    rmSync(dataDir, { recursive: true, force: true });
  }
}

main().catch((err: unknown) => {
  process.stderr.write(`${(err as Error).stack ?? String(err)}\n`);
  process.exit(1);
});
