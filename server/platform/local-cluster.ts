/**
 * N server processes on this machine with one command (`npm start -- --processes N`, through
 * scripts/start.sh): what an operator runs behind a load balancer, for a demo, a test or a single
 * large machine.
 *
 * - Redis: `REDIS_URL` when given; otherwise Debian's `redis-server` on loopback, on a free port,
 *   with its own folder `<data>/redis`, no persistence, tied to this launcher (parent-death signal):
 *   it never outlives it.
 * - Database: `MONGODB_URI` when given; otherwise the embedded FerretDB (on PostgreSQL when
 *   installed) over the data folder, run by this launcher (the embedded database belongs to one
 *   process) and handed to every server process.
 * - The processes listen on PORT, PORT+1, …; the first starts alone (it generates the secrets and
 *   seeds the demo into the data folder), the others after it. Each gets the same environment.
 *
 * SIGINT/SIGTERM stop the processes (SIGTERM, their orderly shutdown), then Redis and the database;
 * a launcher killed outright takes the processes and Redis with it (parent-death signal), and the
 * embedded database as the server's own does.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdirSync } from 'node:fs';
import path from 'node:path';
import { ConfigError, loadConfig } from '../config';
import { openDatabase, type OpenedDatabase } from '../db/open-database';
import { canConnect, freeLoopbackPort } from '../db/embedded-ferretdb';
import { childCommand } from '../db/process-guard';
import { createLogger } from '../observability/logger';

export const REDIS_SERVER = process.env.HOICHAN_REDIS_SERVER ?? '/usr/bin/redis-server';

const say = (line: string) => process.stdout.write(`[cluster] ${line}\n`);

async function waitUntil(what: string, child: ChildProcess, ready: () => Promise<boolean>, timeoutMs: number): Promise<void> {
  const started = Date.now();
  while (!(await ready())) {
    if (child.exitCode !== null || child.signalCode !== null) throw new Error(`${what} exited (${child.exitCode ?? child.signalCode})`);
    if (Date.now() - started > timeoutMs) throw new Error(`${what} did not start within ${timeoutMs / 1000} s`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

/** Debian's redis-server on loopback for this launcher alone. */
export async function startLocalRedis(dataDir: string): Promise<{ url: string; child: ChildProcess }> {
  const port = await freeLoopbackPort();
  const dir = path.join(dataDir, 'redis');
  mkdirSync(dir, { recursive: true });
  const args = ['--bind', '127.0.0.1', '--port', String(port), '--dir', dir, '--save', '', '--appendonly', 'no', '--protected-mode', 'yes'];
  const cmd = childCommand(REDIS_SERVER, args, 'TERM');
  const child = spawn(cmd.command, cmd.args, { stdio: ['ignore', 'ignore', 'inherit'] });
  child.once('error', (err) => say(`redis-server failed to start (${err.message}): install Debian's redis-server (npm run setup)`));
  await waitUntil('redis-server', child, () => canConnect(port), 15_000);
  return { url: `redis://127.0.0.1:${port}`, child };
}

export function parseProcesses(argv: string[]): number {
  const i = argv.indexOf('--processes');
  const raw = i >= 0 ? argv[i + 1] : process.env.HOICHAN_PROCESSES;
  const n = Number(raw ?? '1');
  if (!Number.isInteger(n) || n < 1 || n > 64) throw new Error(`--processes: expected a whole number from 1 to 64, got ${String(raw)}`);
  return n;
}

async function main(): Promise<void> {
  const count = parseProcesses(process.argv.slice(2));
  const config = loadConfig();
  const logger = createLogger(config.logLevel);
  const children: ChildProcess[] = [];
  let redis: { url: string; child: ChildProcess } | null = null;
  let database: OpenedDatabase | null = null;
  let stopping = false;
  const stop = async (code: number) => {
    if (stopping) return;
    stopping = true;
    say('stopping');
    await Promise.all(
      children.map(
        (c) =>
          new Promise<void>((resolve) => {
            if (c.exitCode !== null || c.signalCode !== null) {
              resolve();
              return;
            }
            c.once('exit', () => resolve());
            c.kill('SIGTERM');
          }),
      ),
    );
    if (redis && redis.child.exitCode === null) {
      const exited = new Promise((r) => redis?.child.once('exit', r));
      redis.child.kill('SIGTERM');
      await exited;
    }
    await database?.close();
    process.exit(code);
  };
  process.on('SIGINT', () => void stop(0));
  process.on('SIGTERM', () => void stop(0));

  try {
    const env: NodeJS.ProcessEnv = { ...process.env };
    if (config.redisUrl) say(`Redis: REDIS_URL`);
    else {
      redis = await startLocalRedis(config.dataDir);
      env.REDIS_URL = redis.url;
      say(`Redis: redis-server on ${redis.url} (folder ${path.join(config.dataDir, 'redis')}, stops with this launcher)`);
    }
    if (config.database.uri) say('database: MONGODB_URI');
    else {
      database = await openDatabase(config, logger);
      if (!database.embedded) throw new Error('embedded database did not start');
      env.MONGODB_URI = database.embedded.uri;
      say(`database: the embedded FerretDB${database.postgres ? ' on PostgreSQL' : ''} at ${database.embedded.uri} (data folder ${config.dataDir})`);
    }
    const host = config.http.host === '0.0.0.0' || config.http.host === '::' ? '127.0.0.1' : config.http.host;
    const main = path.join(__dirname, '..', 'main.js');
    for (let i = 0; i < count; i++) {
      const port = config.http.port + i;
      // Tied to this launcher too (parent-death signal): killed however, it leaves nothing behind.
      const cmd = childCommand(process.execPath, [main], 'TERM');
      const child = spawn(cmd.command, cmd.args, { env: { ...env, PORT: String(port) }, stdio: 'inherit' });
      children.push(child);
      child.once('exit', (code, signal) => {
        if (stopping) return;
        say(`process ${i + 1} (port ${port}) exited (${code ?? signal}); the others keep running`);
        if (children.every((c) => c.exitCode !== null || c.signalCode !== null)) void stop(1);
      });
      await waitUntil(`server process ${i + 1}`, child, () => canConnect(port), 120_000);
      say(`process ${i + 1} of ${count}: http://${host}:${port} (pid ${child.pid})`);
    }
    say(`${count} processes up; put a load balancer in front of the ports above (docs/deploy.md). Ctrl-C stops them all.`);
  } catch (err) {
    say(`failed: ${err instanceof ConfigError ? err.message : err instanceof Error ? err.message : String(err)}`);
    await stop(1);
  }
}

if (require.main === module) void main();
