import { rmSync } from 'node:fs';

export default async function globalTeardown(): Promise<void> {
  const db = globalThis.__hoichanTestFerretDb;
  if (!db) return;
  globalThis.__hoichanTestFerretDb = undefined;
  await db.stop();
  delete process.env.HOICHAN_TEST_MONGODB_URI;
  if (process.env.HOICHAN_TEST_DB_DIR) rmSync(process.env.HOICHAN_TEST_DB_DIR, { recursive: true, force: true });
}
