/**
 * Starts one real FerretDB for the integration and e2e projects (each test file then uses its own
 * database). With HOICHAN_TEST_MONGODB_URI set, that server is used instead (e.g. a MongoDB 7).
 * Its storage is the server's default: an embedded PostgreSQL where Debian's postgresql is installed
 * (as the embedded default and production's FerretDB-on-PostgreSQL), else SQLite;
 * HOICHAN_TEST_DB_HANDLER=sqlite|postgresql chooses (npm test's second pass runs the EMR, access,
 * audit and fuzz tests on SQLite).
 */
import { mkdtempSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { EmbeddedFerretDb, defaultFerretDbBin } from '../../server/db/embedded-ferretdb';
import { EmbeddedPostgres, findPostgresBinDir } from '../../server/db/embedded-postgres';
import { createLogger } from '../../server/observability/logger';

declare global {
  var __hoichanTestFerretDb: EmbeddedFerretDb | undefined;
  var __hoichanTestPostgres: EmbeddedPostgres | undefined;
}

export default async function globalSetup(): Promise<void> {
  if (process.env.HOICHAN_TEST_MONGODB_URI) return;
  const cache = process.env.HOICHAN_CACHE ?? path.join(os.homedir(), '.cache', 'hoichan');
  const dataDir = mkdtempSync(path.join(os.tmpdir(), 'hoichan-test-db-'));
  const logger = createLogger('warn');
  const asked = process.env.HOICHAN_TEST_DB_HANDLER;
  if (asked !== undefined && asked !== 'sqlite' && asked !== 'postgresql') throw new Error(`HOICHAN_TEST_DB_HANDLER: sqlite or postgresql, not ${asked}`);
  const binDir = findPostgresBinDir(process.env.HOICHAN_PG_BIN_DIR);
  const handler = asked ?? (binDir ? 'postgresql' : 'sqlite');
  let postgres: EmbeddedPostgres | undefined;
  if (handler === 'postgresql') {
    if (!binDir) throw new Error('HOICHAN_TEST_DB_HANDLER=postgresql: no PostgreSQL server binaries (run scripts/ensure-postgres.sh)');
    postgres = await EmbeddedPostgres.start({ binDir, dataDir, logger });
    globalThis.__hoichanTestPostgres = postgres;
  }
  const db = await EmbeddedFerretDb.start({
    bin: process.env.FERRETDB_BIN ?? defaultFerretDbBin(cache),
    dataDir,
    logger,
    handler,
    postgresqlUrl: postgres?.url,
  });
  globalThis.__hoichanTestFerretDb = db;
  process.env.HOICHAN_TEST_MONGODB_URI = db.uri;
  process.env.HOICHAN_TEST_DB_DIR = dataDir;
}
