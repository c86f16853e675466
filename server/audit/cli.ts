/**
 * `npm run audit:verify`: walks the audit chain and prints the first entry that was altered or
 * removed. Exit 0 when intact, 1 when broken, 2 when it could not run.
 * Uses MONGODB_URI/MONGODB_DB, or starts the embedded FerretDB over HOICHAN_DATA_DIR; the checkpoint
 * key is HOICHAN_AUDIT_KEY or the one generated into HOICHAN_DATA_DIR.
 */
import { loadConfig } from '../config';
import { openDatabase } from '../db/open-database';
import { createLogger } from '../observability/logger';
import { AuditLog, auditOptionsFrom } from './audit-log';

async function main(): Promise<number> {
  const config = loadConfig();
  const logger = createLogger('warn', true);
  const db = await openDatabase(config, logger);
  try {
    const result = await AuditLog.create(db.database.connection, { ...auditOptionsFrom(config), checkpointIntervalMs: 0 }).verify();
    process.stdout.write(`${JSON.stringify(result)}\n`);
    return result.ok ? 0 : 1;
  } finally {
    await db.close();
  }
}

main().then(
  (code) => process.exit(code),
  (err: unknown) => {
    process.stderr.write(`audit:verify failed: ${(err as Error).message}\n`);
    process.exit(2);
  },
);
