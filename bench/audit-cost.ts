/**
 * Audit trail: what one audited read costs at a steady rate.
 *
 *   npx tsc -p tsconfig.build.json && node dist/bench/audit-cost.js [--rate 500] [--seconds 10] [--processes 1] [--linger <ms>]
 *     [--batch-interval <ms>] [--batch-target <n>] [--max-batch-interval <ms>] [--anchor-interval <ms>] [--handler postgresql|sqlite]
 *     [--verify-during]
 *
 * Starts the embedded FerretDB (on PostgreSQL, the embedded default, or `--handler sqlite`) in a temporary folder and `--processes` AuditLog writers
 * (each with its own connection and its own chain, as separate server processes would have), then records `--rate`
 * entries per second in total for `--seconds`, the way request handlers do (fire and await).
 * Prints the latency of `record()` (call → stored), the CPU the server process and FerretDB
 * spent per entry, the batches written, and whether the chain verifies. Then one JSON line.
 * `--verify-during`: a verifier on a connection of its own walks the trail again and again while the
 * entries are written and counts its verdicts (any alarm is a false one); its CPU is in the server's.
 */
import { mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { performance } from 'node:perf_hooks';
import { AuditLog } from '../server/audit/audit-log';
import { Database } from '../server/db/database';
import { EmbeddedFerretDb, defaultFerretDbBin } from '../server/db/embedded-ferretdb';
import { createLogger } from '../server/observability/logger';
import { EmbeddedPostgres, findPostgresBinDir } from '../server/db/embedded-postgres';

function arg(name: string, def: number): number {
  const i = process.argv.indexOf(`--${name}`);
  if (i < 0) return def;
  const v = Number(process.argv[i + 1]);
  if (!Number.isFinite(v) || v <= 0) throw new Error(`--${name} needs a positive number`);
  return v;
}

const percentile = (sorted: number[], p: number) => sorted[Math.min(sorted.length - 1, Math.max(0, Math.ceil((p / 100) * sorted.length) - 1))] ?? NaN;

/** CPU seconds (user + system) a process has used, from /proc. */
function procCpuS(pid: number | undefined): number {
  if (!pid) return NaN;
  try {
    const fields = readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1]?.split(' ') ?? [];
    return (Number(fields[11]) + Number(fields[12])) / 100;
  } catch {
    return NaN;
  }
}

/** CPU seconds of this process's descendants other than `except` (PostgreSQL's processes). */
function descendantsCpuS(except: number | undefined): number {
  const procs = new Map<number, { ppid: number; cpu: number }>();
  for (const name of readdirSync('/proc')) {
    if (!/^\d+$/.test(name)) continue;
    try {
      const f = readFileSync(`/proc/${name}/stat`, 'utf8').split(') ')[1]?.split(' ') ?? [];
      procs.set(Number(name), { ppid: Number(f[1]), cpu: (Number(f[11]) + Number(f[12])) / 100 });
    } catch {
      // ended meanwhile
    }
  }
  let total = 0;
  for (const [pid, p] of procs) {
    if (pid === except) continue;
    for (let up = p.ppid, hops = 0; hops < 10 && up > 1; up = procs.get(up)?.ppid ?? 0, hops++)
      if (up === process.pid) {
        total += p.cpu;
        break;
      }
  }
  return total;
}

async function main(): Promise<void> {
  const rate = arg('rate', 500);
  const seconds = arg('seconds', 10);
  const processes = arg('processes', 1);
  const optional = (name: string) => (process.argv.includes(`--${name}`) ? Number(process.argv[process.argv.indexOf(`--${name}`) + 1]) : undefined);
  const linger = optional('linger');
  const batchInterval = optional('batch-interval');
  const anchorInterval = optional('anchor-interval');
  const batchTarget = optional('batch-target');
  const maxBatchInterval = optional('max-batch-interval');
  const verifyDuring = process.argv.includes('--verify-during');
  const logger = createLogger('warn');
  const dataDir = mkdtempSync(path.join(os.tmpdir(), 'hoichan-bench-audit-'));
  const cache = process.env.HOICHAN_CACHE ?? path.join(os.homedir(), '.cache', 'hoichan');
  const handler = process.argv.includes('--handler') ? process.argv[process.argv.indexOf('--handler') + 1] : 'postgresql';
  if (handler !== 'postgresql' && handler !== 'sqlite') throw new Error('--handler postgresql|sqlite');
  const pgBinDir = handler === 'postgresql' ? findPostgresBinDir(process.env.HOICHAN_PG_BIN_DIR) : undefined;
  if (handler === 'postgresql' && !pgBinDir) throw new Error('PostgreSQL is not installed (npm run setup)');
  const postgres = pgBinDir ? await EmbeddedPostgres.start({ binDir: pgBinDir, dataDir, logger }) : null;
  const ferret = await EmbeddedFerretDb.start({
    bin: process.env.FERRETDB_BIN ?? defaultFerretDbBin(cache),
    dataDir,
    logger,
    ...(postgres ? { handler: 'postgresql' as const, postgresqlUrl: postgres.url } : {}),
  });
  const dbs = await Promise.all(Array.from({ length: processes }, () => Database.connect(ferret.uri, 'bench_audit', logger)));
  const key = 'bench-audit-key-that-is-long-enough-0123456789';
  const logs = dbs.map((d) =>
    AuditLog.create(d.connection, {
      checkpointKey: key,
      checkpointIntervalMs: 2000,
      ...(linger !== undefined ? { lingerMs: linger } : {}),
      ...(batchInterval !== undefined ? { batchIntervalMs: batchInterval } : {}),
      ...(anchorInterval !== undefined ? { anchorIntervalMs: anchorInterval } : {}),
      ...(batchTarget !== undefined ? { batchTarget } : {}),
      ...(maxBatchInterval !== undefined ? { maxBatchIntervalMs: maxBatchInterval } : {}),
    }),
  );
  try {
    // the indexes the server has: mongoose's, and on PostgreSQL the containment (GIN) indexes that
    // `_id` point reads and the flat query fields need (server/db/open-database.ts does the same)
    if (postgres) dbs[0]!.onIndexesSynced((fields) => postgres.ensureContainmentIndexes('bench_audit', fields));
    await dbs[0]!.syncIndexes();
    // warm-up: connections, the head, the models
    await Promise.all(logs.map((l) => l.record({ kind: 'admin', action: 'E', success: true, agent: { userId: 'bench' }, outcomeDesc: 'warm-up' })));
    const latencies: number[] = [];
    const pending: Promise<unknown>[] = [];
    let errors = 0;
    const total = Math.round(rate * seconds);
    // a verifier of its own, as an administrator's `audit:verify` beside the server processes
    const verifierDb = verifyDuring ? await Database.connect(ferret.uri, 'bench_audit', logger) : null;
    const verifier = verifierDb ? AuditLog.create(verifierDb.connection, { checkpointKey: key, checkpointIntervalMs: 0 }) : null;
    const verdicts = { runs: 0, alarms: 0, firstAlarm: '' };
    let writing = true;
    const verifying = (async () => {
      while (verifier && writing) {
        const v = await verifier.verify();
        verdicts.runs += 1;
        if (!v.ok && !verdicts.alarms++) verdicts.firstAlarm = v.message;
      }
    })();
    const cpu0 = process.cpuUsage();
    const ferretCpu0 = procCpuS(ferret.pid);
    const pgCpu0 = descendantsCpuS(ferret.pid);
    const load0 = os.loadavg()[0] ?? NaN;
    const t0 = performance.now();
    for (let i = 0; i < total; i++) {
      // steady arrivals: entry i is due at t0 + i / rate
      const due = t0 + (i * 1000) / rate;
      const wait = due - performance.now();
      if (wait > 1) await new Promise((r) => setTimeout(r, wait));
      const s = performance.now();
      pending.push(
        logs[i % logs.length]!.record({
          kind: 'patient-record',
          action: 'R',
          success: true,
          agent: { userId: `usr-${i % 40}`, role: 'specialist', facilityId: 'fac-central', ip: '127.0.0.1' },
          patientId: `pat-${i % 1000}`,
          entities: [`Observation/obs-${i}`],
          requestId: `req-${i}`,
        }).then(
          () => latencies.push(performance.now() - s),
          (err: unknown) => {
            errors += 1;
            if (errors <= 3) process.stderr.write(`record() failed: ${(err as Error).message}\n`);
          },
        ),
      );
    }
    await Promise.all(pending);
    writing = false;
    await verifying;
    await verifierDb?.close();
    const wallS = (performance.now() - t0) / 1000;
    const cpu = process.cpuUsage(cpu0);
    const ferretCpuS = procCpuS(ferret.pid) - ferretCpu0;
    const pgCpuS = descendantsCpuS(ferret.pid) - pgCpu0;
    latencies.sort((a, b) => a - b);
    const tv = performance.now();
    const verdict = await logs[0]!.verify();
    const verifyMs = performance.now() - tv;
    const batches = logs.reduce((n, l) => n + l.stats.batches, 0);
    const chains = logs.reduce((n, l) => n + l.stats.chainsRegistered, 0);
    const chainsLost = logs.reduce((n, l) => n + l.stats.chainsLost, 0);
    const anchorMoves = logs.reduce((n, l) => n + l.stats.anchorMoves, 0);
    const anchorFailures = logs.reduce((n, l) => n + l.stats.anchorFailures, 0);
    const result = {
      bench: 'audit-cost',
      database: `embedded FerretDB (${postgres ? 'PostgreSQL' : 'SQLite'})`,
      cpus: os.cpus().length,
      /** 1-minute load average at the start and at the end of the timed run (others' work on the machine included). */
      loadAverage: [load0, os.loadavg()[0] ?? NaN].map((l) => Number(l.toFixed(1))),
      processes,
      ratePerS: rate,
      achievedPerS: Number((total / wallS).toFixed(1)),
      entries: total,
      errors,
      batches,
      entriesPerBatch: Number((total / batches).toFixed(1)),
      chains,
      chainsLost,
      anchorMoves,
      anchorFailures,
      recordMsP50: Number(percentile(latencies, 50).toFixed(2)),
      recordMsP99: Number(percentile(latencies, 99).toFixed(2)),
      serverCpuMsPerEntry: Number(((cpu.user + cpu.system) / 1000 / total).toFixed(3)),
      /** Of which in the kernel (socket I/O over loopback, timers). */
      serverSystemCpuMsPerEntry: Number((cpu.system / 1000 / total).toFixed(3)),
      ferretdbCpuMsPerEntry: Number(((ferretCpuS * 1000) / total).toFixed(3)),
      postgresCpuMsPerEntry: Number(((pgCpuS * 1000) / total).toFixed(3)),
      verifyOk: verdict.ok,
      verifyMs: Math.round(verifyMs),
      ...(verifyDuring ? { verifyDuringRuns: verdicts.runs, verifyDuringAlarms: verdicts.alarms } : {}),
    };
    const rows: [string, string][] = [
      [
        'Offered / achieved',
        `${rate}/s for ${seconds} s → ${result.achievedPerS}/s (${processes} writer process${processes > 1 ? 'es' : ''}), ${errors} errors`,
      ],
      ['record() call → stored', `p50 ${result.recordMsP50} ms, p99 ${result.recordMsP99} ms`],
      [
        'Batches',
        `${batches} (${result.entriesPerBatch} entries per insertMany), ${anchorMoves} anchor moves (${anchorFailures} failed), ${chains} chains (${chainsLost} lost to another writer)`,
      ],
      [
        'CPU per audited read',
        `server ${result.serverCpuMsPerEntry} ms + FerretDB ${result.ferretdbCpuMsPerEntry} ms${postgres ? ` + PostgreSQL ${result.postgresCpuMsPerEntry} ms` : ''}`,
      ],
      ['Verify after the run', `${verdict.ok ? 'intact' : verdict.message} (${verdict.entries} entries in ${result.verifyMs} ms)`],
      ...(verifyDuring
        ? [
            ['Verify while writing', `${verdicts.runs} runs, ${verdicts.alarms} alarms${verdicts.alarms ? ` (first: ${verdicts.firstAlarm})` : ''}`] as [
              string,
              string,
            ],
          ]
        : []),
    ];
    const w = Math.max(...rows.map((r) => r[0].length));
    process.stdout.write(`\nAudit cost bench (${result.database}, ${result.cpus} CPUs, load average ${result.loadAverage.join(' → ')})\n`);
    for (const [k, v] of rows) process.stdout.write(`  ${k.padEnd(w)}  ${v}\n`);
    process.stdout.write(`${JSON.stringify(result)}\n`);
  } finally {
    await Promise.all(logs.map((l) => l.close()));
    await Promise.all(dbs.map((d) => d.close()));
    await ferret.stop();
    await postgres?.stop();
    rmSync(dataDir, { recursive: true, force: true });
  }
}

main().catch((err: unknown) => {
  process.stderr.write(`${(err as Error).stack ?? String(err)}\n`);
  process.exit(1);
});
