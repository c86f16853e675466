import { rmSync } from 'node:fs';

export default async function globalTeardown(): Promise<void> {
  const db = globalThis.__hoichanTestFerretDb;
  const pg = globalThis.__hoichanTestPostgres;
  globalThis.__hoichanTestFerretDb = undefined;
  globalThis.__hoichanTestPostgres = undefined;
  if (!db && !pg) return;
  await db?.stop();
  await pg?.stop();
  delete process.env.HOICHAN_TEST_MONGODB_URI;
  if (process.env.HOICHAN_TEST_DB_DIR) rmSync(process.env.HOICHAN_TEST_DB_DIR, { recursive: true, force: true });
}
