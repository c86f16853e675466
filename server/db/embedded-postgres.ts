/**
 * The embedded PostgreSQL under FerretDB (`HOICHAN_DB_HANDLER=postgresql`, the default when
 * Debian's `postgresql` package is installed): a cluster of its own in `<data>/postgres`, listening
 * on loopback and on a socket in the data folder, trust authentication for one local role
 * (`hoichan`) because nothing but this server can reach it. Started and stopped by the server, dies
 * with it (parent-death signal), and PostgreSQL's own postmaster.pid keeps a second one off its files.
 */
import { execFile, spawn, type ChildProcess } from 'node:child_process';
import { chmodSync, chownSync, existsSync, mkdirSync, readdirSync, statSync } from 'node:fs';
import path from 'node:path';
import { promisify } from 'node:util';
import type { Logger } from '../observability/logger';
import { freeLoopbackPort } from './embedded-ferretdb';
import { RestartBackoff, stderrTail, stopChild } from './child-supervision';
import { childCommand, systemUser, type ChildUser } from './process-guard';

const run = promisify(execFile);

/** Debian's PostgreSQL binaries: `/usr/lib/postgresql/<major>/bin`, the newest installed (or `HOICHAN_PG_BIN_DIR`). */
export function findPostgresBinDir(configured?: string): string | undefined {
  if (configured) return existsSync(path.join(configured, 'postgres')) ? configured : undefined;
  const root = '/usr/lib/postgresql';
  if (!existsSync(root)) return undefined;
  const majors = readdirSync(root)
    .filter((d) => /^\d+$/.test(d) && existsSync(path.join(root, d, 'bin', 'postgres')))
    .sort((a, b) => Number(b) - Number(a));
  return majors[0] ? path.join(root, majors[0], 'bin') : undefined;
}

export interface EmbeddedPostgresOptions {
  binDir: string;
  /** The cluster lives in `<dataDir>/postgres`. */
  dataDir: string;
  logger: Logger;
  port?: number;
  /** Called after the supervisor has restarted a PostgreSQL that died. */
  onRestart?: () => void;
}

/**
 * Debian's PostgreSQL on loopback over the data folder, supervised like the embedded FerretDB: if
 * the postmaster dies while the platform runs, it is started again (backoff 0.2 s → 5 s) on the same
 * port, and PostgreSQL's own crash recovery replays the WAL, so no committed write is lost.
 */
export class EmbeddedPostgres {
  #child: ChildProcess | null = null;
  #stopping = false;
  // After a killed postmaster, its backends exit on their own within moments; until then a new one
  // refuses to start (shared memory still in use) and the next attempt comes after the pause.
  readonly #restarter: RestartBackoff;

  private constructor(
    private readonly opts: EmbeddedPostgresOptions,
    readonly port: number,
    private readonly user: ChildUser | undefined,
  ) {
    this.#restarter = new RestartBackoff('embedded PostgreSQL', () => this.#spawnAndWait(), opts.logger, opts.onRestart);
  }

  get clusterDir(): string {
    return path.join(this.opts.dataDir, 'postgres');
  }

  get socketDir(): string {
    return path.join(this.opts.dataDir, 'postgres-run');
  }

  /** For FerretDB's `--postgresql-url`. */
  get url(): string {
    return `postgres://hoichan@127.0.0.1:${this.port}/postgres`;
  }

  get pid(): number | undefined {
    return this.#child?.pid;
  }

  get restarts(): number {
    return this.#restarter.restarts;
  }

  static async start(opts: EmbeddedPostgresOptions): Promise<EmbeddedPostgres> {
    // PostgreSQL refuses to run as root: as root, the cluster belongs to the `postgres` account.
    const user = process.getuid?.() === 0 ? systemUser('postgres') : undefined;
    if (process.getuid?.() === 0 && !user) throw new Error('running as root: PostgreSQL needs the `postgres` account (Debian package `postgresql`)');
    const port = opts.port && opts.port > 0 ? opts.port : await freeLoopbackPort();
    const pg = new EmbeddedPostgres(opts, port, user);
    await pg.#initIfNeeded();
    await pg.#spawnAndWait();
    return pg;
  }

  async #initIfNeeded(): Promise<void> {
    const { binDir, dataDir, logger } = this.opts;
    mkdirSync(dataDir, { recursive: true });
    for (const dir of [this.clusterDir, this.socketDir]) {
      mkdirSync(dir, { recursive: true, mode: 0o700 });
      if (this.user) chownSync(dir, this.user.uid, this.user.gid);
    }
    if (this.user) {
      // the postgres account must be able to reach its folders inside the data folder
      const mode = statSync(dataDir).mode & 0o777;
      if ((mode & 0o001) === 0) chmodSync(dataDir, mode | 0o001);
    }
    if (existsSync(path.join(this.clusterDir, 'PG_VERSION'))) return;
    const cmd = childCommand(
      path.join(binDir, 'initdb'),
      ['-D', this.clusterDir, '-U', 'hoichan', '--auth=trust', '--encoding=UTF8', '--locale=C.UTF-8', '--no-instructions'],
      'TERM',
      this.user,
    );
    logger.info({ dir: this.clusterDir }, 'creating the embedded PostgreSQL cluster');
    await run(cmd.command, cmd.args, { timeout: 120_000 });
  }

  async #spawnAndWait(): Promise<void> {
    const { binDir, logger } = this.opts;
    const cmd = childCommand(
      path.join(binDir, 'postgres'),
      [
        '-D',
        this.clusterDir,
        '-h',
        '127.0.0.1',
        '-p',
        String(this.port),
        '-k',
        this.socketDir,
        '-c',
        'max_connections=100',
        '-c',
        'shared_buffers=256MB',
        '-c',
        'effective_cache_size=1GB',
        '-c',
        'work_mem=16MB',
        '-c',
        'maintenance_work_mem=128MB',
        '-c',
        'random_page_cost=1.1',
        '-c',
        'jit=off',
        '-c',
        'logging_collector=off',
        '-c',
        'log_min_messages=warning',
      ],
      'INT', // fast shutdown: FerretDB's connections must not hold it up
      this.user,
    );
    const child = spawn(cmd.command, cmd.args, { stdio: ['ignore', 'ignore', 'pipe'] });
    this.#child = child;
    const stderr = stderrTail(child);
    child.once('exit', (code, signal) => {
      if (this.#child === child) this.#child = null;
      if (this.#stopping) return;
      logger.error({ code, signal, stderr: stderr().slice(-500) }, 'embedded PostgreSQL stopped unexpectedly; restarting');
      this.#restarter.schedule();
    });
    const started = Date.now();
    for (;;) {
      if (this.#child !== child) throw new Error(`PostgreSQL exited during start: ${stderr().slice(-800)}`);
      const ready = await run(path.join(binDir, 'pg_isready'), ['-q', '-h', '127.0.0.1', '-p', String(this.port), '-U', 'hoichan', '-d', 'postgres']).then(
        () => true,
        () => false,
      );
      if (ready) break;
      if (Date.now() - started > 60_000) {
        child.kill('SIGKILL');
        throw new Error(`PostgreSQL did not accept connections on 127.0.0.1:${this.port} within 60 s: ${stderr().slice(-800)}`);
      }
      await new Promise((r) => setTimeout(r, 100));
    }
    logger.info({ port: this.port, pid: child.pid }, 'embedded PostgreSQL listening');
  }

  /** Runs SQL through psql over the socket (index maintenance the MongoDB protocol cannot express). */
  async sql(statement: string): Promise<string> {
    const { stdout } = await run(
      path.join(this.opts.binDir, 'psql'),
      ['-X', '-q', '-A', '-t', '-v', 'ON_ERROR_STOP=1', '-h', '127.0.0.1', '-p', String(this.port), '-U', 'hoichan', '-d', 'postgres', '-c', statement],
      { timeout: 600_000, maxBuffer: 16 * 1024 * 1024 },
    );
    return stdout.trim();
  }

  /**
   * GIN (jsonb_path_ops) indexes on the indexed top-level fields of FerretDB's tables. FerretDB
   * creates B-tree indexes on `_jsonb->'field'`, but what it pushes down is `_jsonb->'field' @> value`,
   * which only a GIN index answers: without these, every pushed-down query is a sequential scan.
   * `fastupdate = off`: with GIN's default pending list, new entries wait unsorted (up to 4 MB per
   * index) until a vacuum merges them, and every search reads that whole list: after an import, a
   * one-row identifier search read 240 pages of the tokens index (5 ms of PostgreSQL CPU instead of
   * 0.2). Indexes made before are switched and their pending lists merged here. Tables with more
   * changes than autovacuum lets pass are analysed at once: without statistics (after an import, a
   * restart) the planner guesses a quarter of the table for every `@>` and intersects the selective
   * key with `type` (every Observation's entry). `fields`: collection → top-level field names.
   * Idempotent; returns the indexes created.
   */
  async ensureContainmentIndexes(schema: string, fields: Record<string, string[]>): Promise<string[]> {
    if (!/^[A-Za-z][A-Za-z0-9_]*$/.test(schema)) throw new Error(`bad schema name ${schema}`);
    const rows = await this.sql(`SELECT _jsonb->>'_id' || '|' || (_jsonb->>'table') FROM "${schema}"."_ferretdb_database_metadata"`).catch(() => '');
    const tables = new Map(
      rows
        .split('\n')
        .filter(Boolean)
        .map((l) => l.split('|') as [string, string]),
    );
    // the tables autovacuum would analyse next (its default threshold), analysed now
    const stale = await this.sql(
      `SELECT s.relname FROM pg_stat_user_tables s JOIN pg_class c ON c.oid = s.relid WHERE s.schemaname = '${schema}' AND s.n_mod_since_analyze > 50 + 0.1 * greatest(c.reltuples, 0)`,
    ).catch(() => '');
    const unanalysed = new Set(stale.split('\n').filter(Boolean));
    const created: string[] = [];
    const statements: string[] = [];
    for (const [collection, list] of Object.entries(fields)) {
      const table = tables.get(collection);
      if (!table || !/^[A-Za-z0-9_]+$/.test(table)) continue;
      for (const field of new Set(list)) {
        if (!/^[A-Za-z_][A-Za-z0-9_]*$/.test(field)) continue;
        const name = `${table}_${field.replace(/^_/, '')}_gin`.slice(0, 63);
        const index = `"${schema}"."${name}"`;
        statements.push(
          `CREATE INDEX IF NOT EXISTS "${name}" ON "${schema}"."${table}" USING gin ((_jsonb->'${field}') jsonb_path_ops) WITH (fastupdate = off)`,
          `ALTER INDEX ${index} SET (fastupdate = off)`,
          `SELECT gin_clean_pending_list('${index}'::regclass)`,
        );
        created.push(`${collection}.${field}`);
      }
      if (unanalysed.has(table)) statements.push(`ANALYZE "${schema}"."${table}"`);
    }
    if (statements.length) await this.sql(statements.join('; '));
    // Documents written from now on are compressed with lz4 where this PostgreSQL has it: a condition
    // the index leaves to a recheck decompresses the row's document once per `->`, and pglz made that
    // most of a patient + category search's PostgreSQL time (2.8 ms for 249 rows; lz4 1.1 ms, 10 % larger).
    const lz4 = await this.sql(`SELECT count(*) FROM pg_settings WHERE name = 'default_toast_compression' AND 'lz4' = ANY(enumvals)`).catch(() => '0');
    const valid = [...tables.values()].filter((t) => /^[A-Za-z0-9_]+$/.test(t));
    if (lz4 === '1' && valid.length) await this.sql(valid.map((t) => `ALTER TABLE "${schema}"."${t}" ALTER COLUMN _jsonb SET COMPRESSION lz4`).join('; '));
    return created;
  }

  async stop(): Promise<void> {
    this.#stopping = true;
    this.#restarter.cancel();
    if (this.#child) await stopChild(this.#child, 'SIGINT', 10_000);
  }
}
