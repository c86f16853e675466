import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync, mkdirSync } from 'node:fs';
import net from 'node:net';
import path from 'node:path';
import type { Logger } from '../observability/logger';
import { RestartBackoff, stderrTail, stopChild } from './child-supervision';
import { childCommand, DataDirLock } from './process-guard';

export interface EmbeddedFerretDbOptions {
  /** Path of the ferretdb binary. */
  bin: string;
  /** Folder for the SQLite files and FerretDB's state. */
  dataDir: string;
  /** Loopback port; 0 picks a free one (kept across restarts). */
  port?: number;
  logger: Logger;
  /** Called after FerretDB stopped unexpectedly and was started again. */
  onRestart?: () => void;
  /** Storage: SQLite files under dataDir (default), or a PostgreSQL database. */
  handler?: 'sqlite' | 'postgresql';
  /** For the postgresql handler, e.g. postgres://hoichan@127.0.0.1:5432/postgres */
  postgresqlUrl?: string;
}

/** Where setup puts FerretDB: `<cache>/ferretdb-v1.24.2/bin/ferretdb`. */
export function defaultFerretDbBin(cacheDir: string): string {
  return path.join(cacheDir, 'ferretdb-v1.24.2', 'bin', 'ferretdb');
}

/**
 * The embedded MongoDB wire-protocol server used when MONGODB_URI is unset: FerretDB on SQLite (or
 * on the embedded PostgreSQL), listening on loopback only. It is supervised: if the process dies while
 * the platform runs it is started again on the same port and data folder, so the driver reconnects
 * by itself. It never outlives the server (parent-death signal through setpriv), and a lock file in
 * the data folder keeps a second server from starting another FerretDB over the same files.
 */
export class EmbeddedFerretDb {
  #child: ChildProcess | null = null;
  #stopping = false;
  readonly #restarter: RestartBackoff;
  #lock: DataDirLock;

  private constructor(
    private readonly opts: EmbeddedFerretDbOptions,
    readonly port: number,
    lock: DataDirLock,
  ) {
    this.#lock = lock;
    this.#restarter = new RestartBackoff('embedded FerretDB', () => this.#spawnAndWait(), opts.logger, opts.onRestart);
  }

  static async start(opts: EmbeddedFerretDbOptions): Promise<EmbeddedFerretDb> {
    if (!existsSync(opts.bin)) {
      throw new Error(`FerretDB binary not found at ${opts.bin}: run \`npm run setup\` (or set MONGODB_URI to use an external MongoDB)`);
    }
    if ((opts.handler ?? 'sqlite') === 'postgresql' && !opts.postgresqlUrl) throw new Error('FerretDB on PostgreSQL needs postgresqlUrl');
    mkdirSync(path.join(opts.dataDir, 'sqlite'), { recursive: true });
    const lock = DataDirLock.acquire(opts.dataDir, 'ferretdb', opts.dataDir);
    try {
      const port = opts.port && opts.port > 0 ? opts.port : await freeLoopbackPort();
      const db = new EmbeddedFerretDb(opts, port, lock);
      await db.#spawnAndWait();
      return db;
    } catch (err) {
      lock.release();
      throw err;
    }
  }

  get uri(): string {
    return `mongodb://127.0.0.1:${this.port}/`;
  }

  /** Process id of the running FerretDB (tests kill it to prove recovery). */
  get pid(): number | undefined {
    return this.#child?.pid;
  }

  get restarts(): number {
    return this.#restarter.restarts;
  }

  async #spawnAndWait(): Promise<void> {
    const { bin, dataDir, logger } = this.opts;
    const storage =
      (this.opts.handler ?? 'sqlite') === 'postgresql'
        ? ['--handler=postgresql', `--postgresql-url=${this.opts.postgresqlUrl}`]
        : ['--handler=sqlite', `--sqlite-url=file:${path.join(dataDir, 'sqlite')}/`];
    const cmd = childCommand(
      bin,
      [
        ...storage,
        `--listen-addr=127.0.0.1:${this.port}`,
        `--state-dir=${dataDir}`,
        '--debug-addr=-',
        '--telemetry=disable',
        '--log-level=warn',
        '--log-format=json',
      ],
      'TERM',
    );
    const child = spawn(cmd.command, cmd.args, { stdio: ['ignore', 'ignore', 'pipe'] });
    this.#child = child;
    this.#lock.setChild(child.pid);
    const stderr = stderrTail(child);
    child.once('exit', (code, signal) => {
      if (this.#child === child) this.#child = null;
      if (this.#stopping) return;
      logger.error({ code, signal, stderr: stderr().slice(-500) }, 'embedded FerretDB stopped unexpectedly; restarting');
      this.#restarter.schedule();
    });
    const started = Date.now();
    while (!(await canConnect(this.port))) {
      if (this.#child !== child) throw new Error(`FerretDB exited during start: ${stderr().slice(-500)}`);
      if (Date.now() - started > 30000) {
        child.kill('SIGKILL');
        throw new Error(`FerretDB did not listen on 127.0.0.1:${this.port} within 30 s: ${stderr().slice(-500)}`);
      }
      await delay(50);
    }
    logger.info({ port: this.port, pid: child.pid }, 'embedded FerretDB listening');
  }

  async stop(): Promise<void> {
    this.#stopping = true;
    this.#restarter.cancel();
    if (this.#child) await stopChild(this.#child, 'SIGTERM', 5000);
    this.#lock.release();
  }

  /** Which storage this FerretDB runs on. */
  get handler(): 'sqlite' | 'postgresql' {
    return this.opts.handler ?? 'sqlite';
  }
}

function delay(ms: number): Promise<void> {
  return new Promise((r) => setTimeout(r, ms));
}

export function freeLoopbackPort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const srv = net.createServer();
    srv.unref();
    srv.once('error', reject);
    srv.listen(0, '127.0.0.1', () => {
      const addr = srv.address();
      const port = typeof addr === 'object' && addr ? addr.port : 0;
      srv.close(() => resolve(port));
    });
  });
}

/** Whether something accepts TCP connections on 127.0.0.1:`port` (a child server is up). */
export function canConnect(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const sock = net.connect({ host: '127.0.0.1', port });
    sock.once('connect', () => {
      sock.destroy();
      resolve(true);
    });
    sock.once('error', () => resolve(false));
  });
}
