/**
 * The platform under a clinic's load: `--clients` concurrent users, each repeating the realistic mix
 * log in → list consults → read the patient's $summary → post a chat message, for `--seconds`.
 * `--rounds-per-login K`: a client signs in again every K rounds (default 1: every round, a storm of
 * sign-ins; a clinician signs in once per shift and then works, so K > 1 is the everyday case).
 * `--think-ms T`: each client waits T ms after each request (default 0: closed loop, no think time,
 * which keeps the cores saturated; a clinician reads a summary for seconds).
 *
 *   npx tsc -p tsconfig.build.json && node dist/bench/clinic-load.js [--clients 50] [--seconds 60] [--rounds-per-login 1]
 *     [--think-ms 0] [--handler postgresql|sqlite]
 *
 * Starts the real platform (embedded FerretDB in a temporary data folder, demo data), opens one
 * consult on the demo patient as the district referrer, then runs the clients in a worker thread (the
 * load generator's own HTTP work must not wait in the server's event loop, nor the server's in
 * its: they share only the cores, as two processes on one machine would). Prints p50/p99 per
 * step and overall, requests/s and errors, and what one login's password hash (scrypt N=2^15, r=8)
 * costs alone and 4 at a time (libuv pool: 4 threads). Then one JSON line.
 */
import { scrypt } from 'node:crypto';
import { rmSync } from 'node:fs';
import os from 'node:os';
import { performance } from 'node:perf_hooks';
import { isMainThread, parentPort, Worker, workerData } from 'node:worker_threads';
import { benchConfig } from './bench-platform';
import { startPlatform } from '../server/main';
import { createLogger } from '../server/observability/logger';

function arg(name: string, def: string): string {
  const i = process.argv.indexOf(`--${name}`);
  return i < 0 ? def : (process.argv[i + 1] ?? def);
}
const pct = (s: number[], p: number) => s[Math.min(s.length - 1, Math.max(0, Math.ceil((p / 100) * s.length) - 1))] ?? NaN;
const r1 = (n: number) => Math.round(n * 10) / 10;

async function apiRequest(url: string, method: string, pathname: string, token?: string, body?: unknown): Promise<Record<string, unknown>> {
  const form = body instanceof FormData;
  const res = await fetch(`${url}${pathname}`, {
    method,
    headers: { ...(token ? { authorization: `Bearer ${token}` } : {}), ...(body && !form ? { 'content-type': 'application/json' } : {}) },
    body: body === undefined ? undefined : form ? body : JSON.stringify(body),
  });
  const text = await res.text();
  if (!res.ok) throw new Error(`${method} ${pathname} → ${res.status}: ${text.slice(0, 200)}`);
  return text ? (JSON.parse(text) as Record<string, unknown>) : {};
}

const STEPS = ['login', 'list consults', '$summary', 'post chat'] as const;
type Step = (typeof STEPS)[number];

/** What the load worker is given. */
interface LoadPlan {
  url: string;
  password: string;
  patientId: string;
  consultId: string;
  clients: number;
  seconds: number;
  roundsPerLogin: number;
  thinkMs: number;
}

/** What it measured. */
interface LoadMeasure {
  lat: Record<string, number[]>;
  errors: Record<string, number>;
  firstErrors: string[];
  wall: number;
}

/** The clients' loop (runs in the worker thread). */
async function runClients(plan: LoadPlan): Promise<LoadMeasure> {
  const req = (method: string, pathname: string, token?: string, body?: unknown) => apiRequest(plan.url, method, pathname, token, body);
  const login = async () =>
    (await req('POST', '/api/auth/login', undefined, { email: 'referrer@district.demo', password: plan.password })).accessToken as string;
  const think = () => (plan.thinkMs > 0 ? new Promise((r) => setTimeout(r, plan.thinkMs)) : Promise.resolve());
  const lat: Record<string, number[]> = Object.fromEntries(STEPS.map((s) => [s, []]));
  const errors: Record<string, number> = Object.fromEntries(STEPS.map((s) => [s, 0]));
  const firstErrors: string[] = [];
  const end = performance.now() + plan.seconds * 1000;
  let iterations = 0;
  const timed = async <T>(step: Step, fn: () => Promise<T>): Promise<T | undefined> => {
    const t = performance.now();
    try {
      return await fn();
    } catch (err) {
      errors[step] = (errors[step] ?? 0) + 1;
      // eslint-disable-next-line @typescript-eslint/no-unnecessary-type-conversion -- the value comes off the wire
      if (firstErrors.length < 5) firstErrors.push(String((err as Error).message));
      return undefined;
    } finally {
      lat[step]?.push(performance.now() - t);
      await think();
    }
  };
  const t0 = performance.now();
  await Promise.all(
    Array.from({ length: plan.clients }, async (_, c) => {
      let tok: string | undefined;
      for (let round = 0; performance.now() < end; round++) {
        if (!tok || round % plan.roundsPerLogin === 0) tok = await timed('login', login);
        if (!tok) continue;
        await timed('list consults', () => req('GET', '/api/consults', tok));
        await timed('$summary', () => req('GET', `/fhir/R4/Patient/${plan.patientId}/$summary`, tok));
        const form = new FormData();
        form.set('text', `tin nhắn ${c}-${iterations}`);
        await timed('post chat', () => req('POST', `/api/consults/${plan.consultId}/messages`, tok, form));
        iterations += 1;
      }
    }),
  );
  return { lat, errors, firstErrors, wall: (performance.now() - t0) / 1000 };
}

/** Runs the clients in a worker thread and waits for its measure. */
function runClientsInWorker(plan: LoadPlan): Promise<LoadMeasure> {
  return new Promise((resolve, reject) => {
    const worker = new Worker(__filename, { workerData: plan });
    worker.once('message', (m: LoadMeasure) => resolve(m));
    worker.once('error', reject);
    worker.once('exit', (code) => {
      if (code !== 0) reject(new Error(`load worker exited with ${code}`));
    });
  });
}

const scryptOnce = () =>
  new Promise<number>((resolve, reject) => {
    const t = performance.now();
    scrypt('a password of ordinary length', 'sixteen-byte-slt', 64, { N: 2 ** 15, r: 8, p: 1, maxmem: 64 * 1024 * 1024 }, (err) =>
      err ? reject(err) : resolve(performance.now() - t),
    );
  });

async function main(): Promise<void> {
  const clients = Number(arg('clients', '50'));
  const seconds = Number(arg('seconds', '60'));
  const roundsPerLogin = Number(arg('rounds-per-login', '1'));
  if (!Number.isInteger(roundsPerLogin) || roundsPerLogin < 1) throw new Error('--rounds-per-login: a whole number ≥ 1');
  const thinkMs = Number(arg('think-ms', '0'));
  if (!Number.isFinite(thinkMs) || thinkMs < 0) throw new Error('--think-ms: a number of milliseconds ≥ 0');
  const handler = arg('handler', 'postgresql');
  const { config, dataDir, password } = benchConfig('load', { HOICHAN_DB_HANDLER: handler, LOGIN_MAX_ATTEMPTS_PER_IP: '1000000' });
  const platform = await startPlatform(config, createLogger('silent'));
  try {
    const req = (method: string, pathname: string, token?: string, body?: unknown) => apiRequest(platform.url, method, pathname, token, body);
    const login = async () => (await req('POST', '/api/auth/login', undefined, { email: 'referrer@district.demo', password })).accessToken as string;
    const token = await login();
    const patients = (await req('GET', '/api/emr/patients', token)).patients as { id: string; access: string }[];
    const patientId = (patients.find((p) => p.access === 'care-team') ?? patients[0])?.id;
    if (!patientId) throw new Error('no demo patient');
    const draft = await req('POST', '/api/consults', token, {
      patientId,
      reason: 'Ho kéo dài 3 tuần',
      clinicalQuestion: 'Nghi lao phổi?',
      urgency: 'urgent',
      requestedSpecialty: 'pulmonology',
      sharedSections: ['problems'],
      imagingStudyIds: [],
      submit: true,
    });
    const consultId = draft.id as string;

    const scryptAlone: number[] = [];
    for (let i = 0; i < 5; i++) scryptAlone.push(await scryptOnce());
    const scryptFour = await Promise.all(Array.from({ length: 4 }, scryptOnce));

    const { lat, errors, firstErrors, wall } = await runClientsInWorker({
      url: platform.url,
      password,
      patientId,
      consultId,
      clients,
      seconds,
      roundsPerLogin,
      thinkMs,
    });
    const steps = STEPS;
    const all = Object.values(lat)
      .flat()
      .sort((a, b) => a - b);
    const rows = steps.map((s) => {
      const l = (lat[s] ?? []).sort((a, b) => a - b);
      return { step: s, requests: l.length, p50: r1(pct(l, 50)), p99: r1(pct(l, 99)), errors: errors[s] ?? 0 };
    });
    const result = {
      bench: 'clinic-load',
      handler,
      cpus: os.cpus().length,
      clients,
      seconds,
      roundsPerLogin,
      thinkMs,
      requests: all.length,
      perS: r1(all.length / wall),
      p50: r1(pct(all, 50)),
      p99: r1(pct(all, 99)),
      errors: Object.values(errors).reduce((a, b) => a + b, 0),
      steps: rows,
      scryptMsAlone: r1(
        pct(
          scryptAlone.sort((a, b) => a - b),
          50,
        ),
      ),
      scryptMsFourAtOnce: r1(Math.max(...scryptFour)),
      firstErrors,
    };
    process.stdout.write(
      `\nClinic load (${clients} clients × ${seconds} s, sign-in every ${roundsPerLogin} round(s), think ${thinkMs} ms, load in a worker thread, FerretDB on ${handler}, ${result.cpus} CPUs)\n`,
    );
    for (const r of rows)
      process.stdout.write(
        `  ${r.step.padEnd(14)} ${String(r.requests).padStart(6)} req  p50 ${String(r.p50).padStart(7)} ms  p99 ${String(r.p99).padStart(7)} ms  errors ${r.errors}\n`,
      );
    process.stdout.write(
      `  ${'all'.padEnd(14)} ${String(result.requests).padStart(6)} req  p50 ${String(result.p50).padStart(7)} ms  p99 ${String(result.p99).padStart(7)} ms  ${result.perS} req/s, errors ${result.errors}\n`,
    );
    process.stdout.write(`  scrypt (one login's hash): ${result.scryptMsAlone} ms alone, ${result.scryptMsFourAtOnce} ms when 4 run at once\n`);
    process.stdout.write(`${JSON.stringify(result)}\n`);
  } finally {
    await platform.close();
    rmSync(dataDir, { recursive: true, force: true });
  }
}

if (isMainThread) {
  main().catch((err: unknown) => {
    process.stderr.write(`${(err as Error).stack ?? String(err)}\n`);
    process.exit(1);
  });
} else {
  void runClients(workerData as LoadPlan).then((m) => parentPort?.postMessage(m));
}
