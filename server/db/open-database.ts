import type { HoichanConfig } from '../config';
import type { Logger } from '../observability/logger';
import { Database } from './database';
import { EmbeddedFerretDb, defaultFerretDbBin } from './embedded-ferretdb';

export interface OpenedDatabase {
  database: Database;
  /** Present when the platform runs its own FerretDB. */
  embedded: EmbeddedFerretDb | null;
  close(): Promise<void>;
}

/** MONGODB_URI when set; otherwise start (and supervise) the embedded FerretDB over the data folder. */
export async function openDatabase(config: HoichanConfig, logger: Logger, onEmbeddedRestart?: () => void): Promise<OpenedDatabase> {
  let embedded: EmbeddedFerretDb | null = null;
  let uri = config.database.uri;
  if (!uri) {
    embedded = await EmbeddedFerretDb.start({
      bin: config.database.ferretdbBin ?? defaultFerretDbBin(config.cacheDir),
      dataDir: config.dataDir,
      logger,
      onRestart: onEmbeddedRestart,
    });
    uri = embedded.uri;
  }
  try {
    const database = await Database.connect(uri, config.database.name, logger);
    return {
      database,
      embedded,
      async close() {
        await database.close().catch(() => undefined);
        await embedded?.stop();
      },
    };
  } catch (err) {
    await embedded?.stop();
    throw err;
  }
}
