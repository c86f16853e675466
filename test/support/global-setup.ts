/**
 * Starts one real FerretDB for the integration and e2e projects (each test file then uses its own
 * database). With HOICHAN_TEST_MONGODB_URI set, that server is used instead (e.g. a MongoDB 7).
 */
import { mkdtempSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { EmbeddedFerretDb, defaultFerretDbBin } from '../../server/db/embedded-ferretdb';
import { createLogger } from '../../server/observability/logger';

declare global {
  // eslint-disable-next-line no-var
  var __hoichanTestFerretDb: EmbeddedFerretDb | undefined;
}

export default async function globalSetup(): Promise<void> {
  if (process.env.HOICHAN_TEST_MONGODB_URI) return;
  const cache = process.env.HOICHAN_CACHE ?? path.join(os.homedir(), '.cache', 'hoichan');
  const dataDir = mkdtempSync(path.join(os.tmpdir(), 'hoichan-test-db-'));
  const db = await EmbeddedFerretDb.start({ bin: process.env.FERRETDB_BIN ?? defaultFerretDbBin(cache), dataDir, logger: createLogger('warn') });
  globalThis.__hoichanTestFerretDb = db;
  process.env.HOICHAN_TEST_MONGODB_URI = db.uri;
  process.env.HOICHAN_TEST_DB_DIR = dataDir;
}
