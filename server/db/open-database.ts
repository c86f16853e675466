import type { HoichanConfig } from '../config';
import type { Logger } from '../observability/logger';
import { Database } from './database';
import { EmbeddedFerretDb, defaultFerretDbBin } from './embedded-ferretdb';
import { EmbeddedPostgres, findPostgresBinDir } from './embedded-postgres';

export interface OpenedDatabase {
  database: Database;
  /** Present when the platform runs its own FerretDB. */
  embedded: EmbeddedFerretDb | null;
  /** Present when that FerretDB stores into the platform's own PostgreSQL. */
  postgres: EmbeddedPostgres | null;
  close(): Promise<void>;
}

/** Where the embedded FerretDB keeps its data: the configured handler, else PostgreSQL if installed. */
export function embeddedHandler(config: HoichanConfig): { handler: 'sqlite' | 'postgresql'; pgBinDir?: string } {
  const pgBinDir = findPostgresBinDir(config.database.postgresBinDir);
  const handler = config.database.handler ?? (pgBinDir ? 'postgresql' : 'sqlite');
  if (handler === 'postgresql' && !pgBinDir) {
    throw new Error(
      'HOICHAN_DB_HANDLER=postgresql but no PostgreSQL server binaries were found (/usr/lib/postgresql/<major>/bin or HOICHAN_PG_BIN_DIR): run `npm run setup` (Debian package `postgresql`)',
    );
  }
  return { handler, pgBinDir };
}

/** MONGODB_URI when set; otherwise start (and supervise) the embedded FerretDB over the data folder. */
export async function openDatabase(config: HoichanConfig, logger: Logger, onEmbeddedRestart?: () => void): Promise<OpenedDatabase> {
  let embedded: EmbeddedFerretDb | null = null;
  let postgres: EmbeddedPostgres | null = null;
  let uri = config.database.uri;
  const stopEmbedded = async () => {
    await embedded?.stop();
    await postgres?.stop();
  };
  try {
    if (!uri) {
      const { handler, pgBinDir } = embeddedHandler(config);
      if (handler === 'postgresql' && pgBinDir) {
        postgres = await EmbeddedPostgres.start({ binDir: pgBinDir, dataDir: config.dataDir, logger, onRestart: onEmbeddedRestart });
      } else if (!config.database.handler) {
        logger.warn('PostgreSQL is not installed: the embedded FerretDB stores into SQLite, which answers most queries by scanning (see docs/database.md)');
      }
      embedded = await EmbeddedFerretDb.start({
        bin: config.database.ferretdbBin ?? defaultFerretDbBin(config.cacheDir),
        dataDir: config.dataDir,
        logger,
        onRestart: onEmbeddedRestart,
        handler,
        postgresqlUrl: postgres?.url,
      });
      uri = embedded.uri;
    }
    const database = await Database.connect(uri, config.database.name, logger);
    const pg = postgres;
    if (pg) {
      database.onIndexesSynced(async (fields) => {
        const created = await pg.ensureContainmentIndexes(config.database.name, fields);
        logger.debug({ created }, 'embedded PostgreSQL: containment indexes');
      });
    }
    return {
      database,
      embedded,
      postgres,
      async close() {
        await database.close().catch(() => undefined);
        await stopEmbedded();
      },
    };
  } catch (err) {
    await stopEmbedded();
    throw err;
  }
}
