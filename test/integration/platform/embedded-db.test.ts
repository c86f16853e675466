/**
 * The embedded database never outlives the server and never runs twice over one data folder:
 * real FerretDB (and PostgreSQL) processes, a real server process killed with SIGKILL.
 */
import { spawn } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { EmbeddedFerretDb, defaultFerretDbBin } from '../../../server/db/embedded-ferretdb';
import { findPostgresBinDir } from '../../../server/db/embedded-postgres';
import { createLogger } from '../../../server/observability/logger';

const cache = process.env.HOICHAN_CACHE ?? path.join(os.homedir(), '.cache', 'hoichan');
const bin = process.env.FERRETDB_BIN ?? defaultFerretDbBin(cache);
const logger = createLogger('silent');
const alive = (pid: number) => {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
};
async function waitFor(what: string, check: () => boolean, timeoutMs = 15000): Promise<void> {
  const start = Date.now();
  while (!check()) {
    if (Date.now() - start > timeoutMs) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

/** A server process (the built dist/, as `npm start` runs it) that opens the embedded database and prints the child pids. */
function startServerProcess(dataDir: string, handler: 'sqlite' | 'postgresql'): Promise<{ pid: number; ferretdb: number; postgres?: number }> {
  const dist = path.resolve(__dirname, '../../../dist/server');
  const script = `
    const { loadConfig } = require(${JSON.stringify(path.join(dist, 'config.js'))});
    const { openDatabase } = require(${JSON.stringify(path.join(dist, 'db/open-database.js'))});
    const { createLogger } = require(${JSON.stringify(path.join(dist, 'observability/logger.js'))});
    openDatabase(loadConfig({ HOME: process.env.HOME, HOICHAN_CACHE: ${JSON.stringify(cache)}, HOICHAN_DATA_DIR: ${JSON.stringify(dataDir)}, HOICHAN_DB_HANDLER: '${handler}' }), createLogger('silent'))
      .then((db) => { process.stdout.write(JSON.stringify({ ferretdb: db.embedded.pid, postgres: db.postgres && db.postgres.pid }) + '\\n'); setInterval(() => {}, 1000); })
      .catch((e) => { process.stderr.write(String(e && e.stack || e)); process.exit(3); });`;
  const child = spawn(process.execPath, ['-e', script], { stdio: ['ignore', 'pipe', 'pipe'] });
  return new Promise((resolve, reject) => {
    let out = '';
    let err = '';
    child.stdout.on('data', (c: Buffer) => {
      out += c.toString();
      if (out.includes('\n')) resolve({ pid: child.pid!, ...(JSON.parse(out) as { ferretdb: number; postgres?: number }) });
    });
    child.stderr.on('data', (c: Buffer) => (err += c.toString()));
    child.once('exit', (code) => reject(new Error(`server process exited ${code}: ${err}`)));
  });
}

const handlers: ('sqlite' | 'postgresql')[] = findPostgresBinDir() ? ['sqlite', 'postgresql'] : ['sqlite'];

describe.each(handlers)('embedded FerretDB on %s', (handler) => {
  let dataDir: string;
  beforeAll(() => {
    expect(existsSync(path.resolve(__dirname, '../../../dist/server/db/open-database.js'))).toBe(true); // built by scripts/setup.sh
    dataDir = mkdtempSync(path.join(os.tmpdir(), `hoichan-embedded-${handler}-`));
  });
  afterAll(() => rmSync(dataDir, { recursive: true, force: true }));

  test('dies with a server killed by SIGKILL; the next start over the same files takes the stale lock; a second one is refused', async () => {
    const first = await startServerProcess(dataDir, handler);
    expect(alive(first.ferretdb)).toBe(true);
    // while it runs, nobody else starts a FerretDB over these files
    await expect(EmbeddedFerretDb.start({ bin, dataDir, logger })).rejects.toThrow(new RegExp(`in use by another hoichan server \\(pid ${first.pid}\\)`));
    process.kill(first.pid, 'SIGKILL');
    await waitFor('FerretDB to exit after the server died', () => !alive(first.ferretdb));
    if (first.postgres) await waitFor('PostgreSQL to exit after the server died', () => !alive(first.postgres!));
    expect(JSON.parse(readFileSync(path.join(dataDir, 'ferretdb.lock'), 'utf8'))).toMatchObject({ owner: first.pid }); // left behind by the kill
    const second = await startServerProcess(dataDir, handler);
    expect(second.ferretdb).not.toBe(first.ferretdb);
    process.kill(second.pid, 'SIGTERM');
    await waitFor('FerretDB to exit after the server stopped', () => !alive(second.ferretdb));
    if (second.postgres) await waitFor('PostgreSQL to exit after the server stopped', () => !alive(second.postgres!));
  });
});
