/**
 * Shared EMR at hospital scale: import, $summary, $everything and the common searches.
 *
 *   npx tsc -p tsconfig.build.json && node dist/bench/fhir-hospital.js [--handler postgresql|sqlite]
 *     [--patients 1000] [--steps 100,1000] [--encounters 28] [--import-concurrency 4]
 *     [--concurrency 16] [--requests 160] [--cache on|off] [--skip Observation?_lastUpdated,...] [--profile on]
 *
 * Starts the real platform on the embedded FerretDB (`--handler`: its storage) in a temporary data
 * folder, imports Synthea-shaped transaction Bundles (test/fixtures/fhir/synthea-bundle.ts; about 250
 * resources per patient with 28 encounters: Observations, Encounters, Claims, EoBs, ...) over HTTP
 * as the district referrer, and at each step of `--steps` (patients loaded so far) restarts the
 * platform (cold: a fresh server process state over the same data) and measures, at `--concurrency`,
 * the first read of distinct patients (cold) and then repeated reads (warm) for:
 * $summary, $everything, Patient?identifier, Observation?patient&category, Observation?patient&code,
 * Observation?_lastUpdated. `--cache off` switches the in-process compartment cache off
 * (HOICHAN_COMPARTMENT_CACHE=0). Every request is audited, as in production. Also prints what the
 * database does with each search (FerretDB `explain`: pushed down or not, the PostgreSQL plan node).
 * `--profile on`: after the warm phase, each database command of 4 sequential warm requests per
 * operation (name, collection, ms), timed in the driver, to see where a request's time goes.
 * Prints tables, then one JSON line.
 */
import { readdirSync, readFileSync, rmSync } from 'node:fs';
import { createRequire } from 'node:module';
import os from 'node:os';
import { performance } from 'node:perf_hooks';
import { benchConfig } from './bench-platform';
import { startPlatform, type Platform } from '../server/main';
import { createLogger } from '../server/observability/logger';
import { syntheaTransactionBundle } from '../test/fixtures/fhir/synthea-bundle';
import { parseSearch } from '../server/emr/search';
import { pushdownShape } from '../server/db/pushdown';

interface Args {
  handler: 'postgresql' | 'sqlite';
  patients: number;
  steps: number[];
  encounters: number;
  importConcurrency: number;
  concurrency: number;
  requests: number;
  cache: boolean;
  /** Operations left out (names as printed, e.g. Observation?_lastUpdated). */
  skip: string[];
  /** After the warm phase: each database command of a few sequential warm requests, with its time. */
  profile: boolean;
}

function parseArgs(argv: string[]): Args {
  const a: Args = {
    handler: 'postgresql',
    patients: 1000,
    steps: [],
    encounters: 28,
    importConcurrency: 4,
    concurrency: 16,
    requests: 160,
    cache: true,
    skip: [],
    profile: false,
  };
  for (let i = 0; i < argv.length; i += 2) {
    const k = argv[i];
    const v = argv[i + 1] ?? '';
    const int = () => {
      const n = Number(v);
      if (!Number.isInteger(n) || n < 1) throw new Error(`${k} needs a positive integer`);
      return n;
    };
    if (k === '--handler' && (v === 'postgresql' || v === 'sqlite')) a.handler = v;
    else if (k === '--patients') a.patients = int();
    else if (k === '--steps') a.steps = v.split(',').map(Number);
    else if (k === '--encounters') a.encounters = int();
    else if (k === '--import-concurrency') a.importConcurrency = int();
    else if (k === '--concurrency') a.concurrency = int();
    else if (k === '--requests') a.requests = int();
    else if (k === '--cache' && (v === 'on' || v === 'off')) a.cache = v === 'on';
    else if (k === '--skip') a.skip = v.split(',');
    else if (k === '--profile' && (v === 'on' || v === 'off')) a.profile = v === 'on';
    else throw new Error(`unknown or bad argument ${k} ${v}`);
  }
  if (!a.steps.length) a.steps = [a.patients];
  a.steps = a.steps.filter((s) => Number.isInteger(s) && s > 0 && s <= a.patients).sort((x, y) => x - y);
  if (a.steps[a.steps.length - 1] !== a.patients) a.steps.push(a.patients);
  return a;
}

const pct = (sorted: number[], p: number) => sorted[Math.min(sorted.length - 1, Math.max(0, Math.ceil((p / 100) * sorted.length) - 1))] ?? NaN;
const r1 = (n: number) => Math.round(n * 10) / 10;

async function pool<T>(items: T[], concurrency: number, fn: (item: T) => Promise<void>): Promise<void> {
  let next = 0;
  await Promise.all(
    Array.from({ length: Math.min(concurrency, items.length) }, async () => {
      while (next < items.length) await fn(items[next++] as T);
    }),
  );
}

interface Loaded {
  patientId: string;
  citizenId: string;
}

const CITIZEN_ID_SYSTEM_GUESS = (bundle: { entry?: { resource?: Record<string, unknown> }[] }): string => {
  const patient = bundle.entry?.[0]?.resource as { identifier?: { system?: string; value?: string }[] } | undefined;
  return patient?.identifier?.find((i) => i.value && /^\d{12}$/.test(i.value))?.system ?? '';
};

interface DbCommand {
  name: string;
  collection: string;
  ms: number;
}
/** Commands of the request being profiled (null: not profiling). */
let commandLog: DbCommand[] | null = null;
/** Commands of the import phase (profiling). */
let importLog: DbCommand[] | null = null;
/** Times every command the driver sends (bench only: wraps the driver's connection). */
function timeDatabaseCommands(): void {
  const require = createRequire(__filename);
  const { Connection } = require('mongodb/lib/cmap/connection') as {
    Connection: { prototype: { command: (ns: unknown, cmd: Record<string, unknown>, ...rest: unknown[]) => Promise<unknown> } };
  };
  const original = Connection.prototype.command;
  Connection.prototype.command = async function (this: unknown, ns: unknown, cmd: Record<string, unknown>, ...rest: unknown[]) {
    const log = commandLog;
    const t0 = performance.now();
    try {
      return await original.call(this, ns, cmd, ...rest);
    } finally {
      const name = Object.keys(cmd)[0] ?? '?';
      if (log) log.push({ name, collection: typeof cmd[name] === 'string' ? cmd[name] : '', ms: performance.now() - t0 });
    }
  };
}

/** CPU seconds used so far by this process and, per program name, by its descendants (FerretDB, PostgreSQL's processes). */
function cpuByProgram(): Map<string, number> {
  const tick = 100; // USER_HZ on Linux
  const out = new Map<string, number>([['node (server+bench)', process.cpuUsage().user / 1e6 + process.cpuUsage().system / 1e6]]);
  const parent = new Map<number, { ppid: number; comm: string; cpu: number }>();
  for (const name of readdirSync('/proc')) {
    if (!/^\d+$/.test(name)) continue;
    try {
      const stat = readFileSync(`/proc/${name}/stat`, 'utf8');
      const close = stat.lastIndexOf(')');
      const comm = stat.slice(stat.indexOf('(') + 1, close);
      const f = stat.slice(close + 2).split(' ');
      // fields after comm: state ppid ... utime(12) stime(13) cutime(14) cstime(15)
      parent.set(Number(name), { ppid: Number(f[1]), comm, cpu: (Number(f[11]) + Number(f[12]) + Number(f[13]) + Number(f[14])) / tick });
    } catch {
      // the process ended meanwhile
    }
  }
  const isDescendant = (pid: number): boolean => {
    for (let p = parent.get(pid)?.ppid, hops = 0; p !== undefined && hops < 10; p = parent.get(p)?.ppid, hops++) if (p === process.pid) return true;
    return false;
  };
  for (const [pid, p] of parent) {
    if (pid === process.pid || !isDescendant(pid)) continue;
    const key = p.comm.startsWith('postgres') ? 'postgres' : p.comm;
    out.set(key, (out.get(key) ?? 0) + p.cpu);
  }
  return out;
}

async function main(): Promise<void> {
  const args = parseArgs(process.argv.slice(2));
  if (args.profile) timeDatabaseCommands();
  const { config, dataDir, password } = benchConfig('hospital', {
    HOICHAN_DB_HANDLER: args.handler,
    HOICHAN_COMPARTMENT_CACHE: args.cache ? '200' : '0',
    LOGIN_MAX_ATTEMPTS_PER_IP: '100000',
  });
  const logger = createLogger(process.env.BENCH_LOG_LEVEL ?? 'silent');
  let platform: Platform = await startPlatform(config, logger);
  const call = async (method: string, pathname: string, token?: string, body?: unknown) => {
    const res = await fetch(`${platform.url}${pathname}`, {
      method,
      headers: { ...(token ? { authorization: `Bearer ${token}` } : {}), ...(body ? { 'content-type': 'application/fhir+json' } : {}) },
      body: body ? JSON.stringify(body) : undefined,
    });
    const text = await res.text();
    if (!res.ok) throw new Error(`${method} ${pathname} → ${res.status}: ${text.slice(0, 300)}`);
    return JSON.parse(text) as Record<string, unknown>;
  };
  const login = async () =>
    ((await call('POST', '/api/auth/login', undefined, { email: 'referrer@district.demo', password })) as { accessToken: string }).accessToken;
  const report: Record<string, unknown>[] = [];
  try {
    let token = await login();
    await call('POST', '/fhir/R4', token, syntheaTransactionBundle({ seed: 999_999, encounters: 2, citizenId: '099000000000' }).bundle); // warm-up
    const loaded: Loaded[] = [];
    let system = '';
    let imported = 0;
    let importS = 0;
    for (const step of args.steps) {
      // import up to `step` patients
      const batch = Array.from({ length: step - loaded.length }, (_, i) => loaded.length + i).map((i) => ({
        i,
        citizenId: `0011${String(i).padStart(8, '0')}`,
      }));
      if (args.profile) importLog = [];
      commandLog = importLog;
      const importCpu0 = args.profile ? cpuByProgram() : null;
      const t0 = performance.now();
      let stepResources = 0;
      await pool(batch, args.importConcurrency, async ({ i, citizenId }) => {
        const { bundle } = syntheaTransactionBundle({ seed: i + 1, encounters: args.encounters, citizenId });
        system ||= CITIZEN_ID_SYSTEM_GUESS(bundle);
        const out = (await call('POST', '/fhir/R4', token, bundle)) as { entry: { fullUrl: string }[] };
        stepResources += out.entry.length;
        loaded.push({ patientId: out.entry[0]?.fullUrl.split('/').slice(-1)[0] ?? '', citizenId });
        if (loaded.length % 100 === 0) process.stderr.write(`  imported ${loaded.length} patients\n`);
      });
      const s = (performance.now() - t0) / 1000;
      commandLog = null;
      if (importLog) {
        const by = new Map<string, { n: number; ms: number }>();
        for (const c of importLog) {
          const k = `${c.name} ${c.collection}`;
          const e = by.get(k) ?? { n: 0, ms: 0 };
          e.n += 1;
          e.ms += c.ms;
          by.set(k, e);
        }
        process.stdout.write(
          `  profile import (${batch.length} Bundles, ${r1(s)} s): ${[...by]
            .sort((a, b) => b[1].ms - a[1].ms)
            .map(([k, e]) => `${k} ×${e.n} ${r1(e.ms)} ms`)
            .join(', ')}\n`,
        );
        if (importCpu0)
          process.stdout.write(
            `  profile import CPU s: ${[...cpuByProgram()].map(([k, v]) => `${k} ${r1(v - (importCpu0.get(k) ?? 0))}`).join(', ')} (${r1(s)} s wall)\n`,
          );
        importLog = [];
      }
      imported += stepResources;
      importS += s;

      // cold: a fresh platform over the same data (new process state, database restarted)
      await platform.close();
      platform = await startPlatform(config, logger);
      token = await login();
      const since = new Date(Date.now() - 60_000).toISOString();
      const allOps: { name: string; path: (p: Loaded) => string }[] = [
        { name: '$summary', path: (p) => `/fhir/R4/Patient/${p.patientId}/$summary` },
        { name: '$everything', path: (p) => `/fhir/R4/Patient/${p.patientId}/$everything` },
        { name: 'Patient?identifier', path: (p) => `/fhir/R4/Patient?identifier=${encodeURIComponent(`${system}|${p.citizenId}`)}` },
        { name: 'Observation?patient&category', path: (p) => `/fhir/R4/Observation?patient=${p.patientId}&category=laboratory&_count=50` },
        { name: 'Observation?patient&code', path: (p) => `/fhir/R4/Observation?patient=${p.patientId}&code=${encodeURIComponent('http://loinc.org|8867-4')}` },
        { name: 'Observation?_lastUpdated', path: () => `/fhir/R4/Observation?_lastUpdated=gt${since}&_count=20` },
      ];
      const ops = allOps.filter((o) => !args.skip.includes(o.name));
      const n = Math.min(args.requests, loaded.length);
      const pick = (k: number) => loaded[Math.floor((k * 7919) % loaded.length)] as Loaded;
      const rows: Record<string, unknown>[] = [];
      for (const phase of ['cold', 'warm'] as const) {
        for (const op of ops) {
          // cold: each request a different patient, first read since the restart; warm: the same patients again.
          // _lastUpdated is a range FerretDB v1 cannot push down (every Observation comes back): fewer requests.
          const items = Array.from({ length: op.name === 'Observation?_lastUpdated' ? Math.min(n, 8) : n }, (_, k) => pick(k));
          // eslint-disable-next-line @typescript-eslint/no-meaningless-void-operator -- discards the response body on purpose
          if (phase === 'warm') await pool(items.slice(0, Math.min(n, 32)), args.concurrency, async (p) => void (await call('GET', op.path(p), token)));
          const lat: number[] = [];
          let errors = 0;
          const cpu0 = args.profile ? cpuByProgram() : null;
          const t = performance.now();
          await pool(items, args.concurrency, async (p) => {
            const s0 = performance.now();
            try {
              await call('GET', op.path(p), token);
            } catch {
              errors += 1;
            }
            lat.push(performance.now() - s0);
          });
          const wall = (performance.now() - t) / 1000;
          if (cpu0) {
            const cpu1 = cpuByProgram();
            const per = [...cpu1].map(([k, v]) => `${k} ${r1(((v - (cpu0.get(k) ?? 0)) * 1000) / items.length)}`).join(', ');
            process.stderr.write(`  ${phase} ${op.name}: CPU ms per request: ${per}\n`);
          }
          lat.sort((x, y) => x - y);
          rows.push({ phase, op: op.name, requests: items.length, p50: r1(pct(lat, 50)), p99: r1(pct(lat, 99)), perS: r1(items.length / wall), errors });
          process.stderr.write(
            `  ${phase} ${op.name}: p50 ${r1(pct(lat, 50))} ms, p99 ${r1(pct(lat, 99))} ms, errors ${errors} (load ${os.loadavg()[0]?.toFixed(1)})\n`,
          );
        }
      }
      if (args.profile) {
        for (const op of ops) {
          for (const p of [0, 1, 2, 3].map(pick)) {
            const seen: DbCommand[] = [];
            commandLog = seen;
            const s0 = performance.now();
            await call('GET', op.path(p), token);
            const total = performance.now() - s0;
            commandLog = null;
            const db = seen.reduce((a, c) => a + c.ms, 0);
            process.stdout.write(
              `  profile ${op.name}: ${r1(total)} ms, ${seen.length} database commands, ${r1(db)} ms in them: ${seen.map((c) => `${c.name} ${c.collection} ${r1(c.ms)}`).join(', ')}\n`,
            );
          }
        }
      }
      // what the database does with each search shape (FerretDB explain)
      const explain = async (type: string, q: Record<string, string>) => {
        const filter = pushdownShape({ $and: [parseSearch(type, q).filter] });
        const db = platform.db.database.connection.db!;
        const out = (await db.command({ explain: { find: 'fhir_resources', filter } })) as {
          filterPushdown?: boolean;
          queryPlanner?: { Plan?: { 'Node Type'?: string; Plans?: { 'Node Type'?: string }[] } };
        };
        const plan = out.queryPlanner?.Plan;
        return `${out.filterPushdown ? 'pushed down' : 'NOT pushed down'}${plan?.['Node Type'] ? `, ${plan['Node Type']}${plan.Plans?.[0]?.['Node Type'] ? ` ← ${plan.Plans[0]['Node Type']}` : ''}` : ''}`;
      };
      const p0 = loaded[0] as Loaded;
      const plans = {
        compartment: await (async () => {
          const out = (await platform.db.database.connection.db!.command({
            explain: { find: 'fhir_resources', filter: { patientId: p0.patientId, deleted: false } },
          })) as { filterPushdown?: boolean; queryPlanner?: { Plan?: { 'Node Type'?: string; Plans?: { 'Node Type'?: string }[] } } };
          return `${out.filterPushdown ? 'pushed down' : 'NOT pushed down'}${out.queryPlanner?.Plan?.['Node Type'] ? `, ${out.queryPlanner.Plan['Node Type']}${out.queryPlanner.Plan.Plans?.[0]?.['Node Type'] ? ` ← ${out.queryPlanner.Plan.Plans[0]['Node Type']}` : ''}` : ''}`;
        })(),
        identifier: await explain('Patient', { identifier: `${system}|${p0.citizenId}` }),
        patientCategory: await explain('Observation', { patient: p0.patientId, category: 'laboratory' }),
        patientCode: await explain('Observation', { patient: p0.patientId, code: 'http://loinc.org|8867-4' }),
        lastUpdated: await explain('Observation', { _lastUpdated: `gt${since}` }),
      };
      const entry = { patients: loaded.length, resources: imported, stepImportResourcesPerS: r1(stepResources / s), rows, plans };
      report.push(entry);
      process.stdout.write(
        `\n${loaded.length} patients, ${imported} resources (import ${entry.stepImportResourcesPerS} resources/s for this step) — FerretDB on ${args.handler}, cache ${args.cache ? 'on' : 'off'}, concurrency ${args.concurrency}\n`,
      );
      process.stdout.write(`  ${'phase'.padEnd(5)} ${'operation'.padEnd(30)} ${'p50 ms'.padStart(8)} ${'p99 ms'.padStart(8)} ${'req/s'.padStart(7)} errors\n`);
      for (const r of rows)
        process.stdout.write(
          // eslint-disable-next-line @typescript-eslint/restrict-template-expressions -- bench report line; unknown prints as is
          `  ${String(r.phase).padEnd(5)} ${String(r.op).padEnd(30)} ${String(r.p50).padStart(8)} ${String(r.p99).padStart(8)} ${String(r.perS).padStart(7)} ${r.errors}\n`,
        );
      process.stdout.write(
        `  database plans: ${Object.entries(plans)
          .map(([k, v]) => `${k}: ${v}`)
          .join('; ')}\n`,
      );
    }
    const result = {
      bench: 'fhir-hospital',
      handler: args.handler,
      cache: args.cache,
      cpus: os.cpus().length,
      importResourcesPerS: r1(imported / importS),
      steps: report,
    };
    process.stdout.write(`\nimport overall: ${result.importResourcesPerS} resources/s (${imported} resources)\n${JSON.stringify(result)}\n`);
  } finally {
    await platform.close();
    rmSync(dataDir, { recursive: true, force: true });
  }
}

main().catch((err: unknown) => {
  process.stderr.write(`${(err as Error).stack ?? String(err)}\n`);
  process.exit(1);
});
