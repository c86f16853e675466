import mongoose, { type Connection } from 'mongoose';
import type { Logger } from '../observability/logger';

/**
 * What every connection asks of the database (stated once: docs/database.md, tested against the real
 * server in test/integration/platform/database-concerns.test.ts):
 * - writes are acknowledged only once a majority of a replica set has them in its journal, so an
 *   acknowledged write survives a restart or a primary's failover (MongoDB ≥ 7); FerretDB on
 *   PostgreSQL acknowledges after PostgreSQL's commit (synchronous WAL flush);
 * - reads go to the primary with majority read concern: a read never returns a write that a failover
 *   could roll back, and a write acknowledged to one server process is seen by the next read of any
 *   other (read-your-writes across processes, which the access decisions and the audit chain need).
 */
export const DATABASE_CONCERNS = {
  writeConcern: { w: 'majority', journal: true },
  readConcern: { level: 'majority' },
  readPreference: 'primary',
} as const;

/**
 * One mongoose connection for the platform, with DATABASE_CONCERNS; while the server is away the
 * driver keeps retrying and a request fails with 503 after `serverSelectionTimeoutMS` instead of
 * hanging.
 */
export class Database {
  /** Called after the declared indexes exist, with collection → indexed top-level fields (the embedded PostgreSQL adds its GIN indexes). */
  #afterIndexes: ((fields: Record<string, string[]>) => Promise<unknown>) | null = null;

  private constructor(readonly connection: Connection) {}

  onIndexesSynced(fn: (fields: Record<string, string[]>) => Promise<unknown>): void {
    this.#afterIndexes = fn;
  }

  static async connect(uri: string, dbName: string, logger: Logger): Promise<Database> {
    const connection = mongoose.createConnection(uri, {
      dbName,
      serverSelectionTimeoutMS: 5000,
      heartbeatFrequencyMS: 1000,
      connectTimeoutMS: 5000,
      maxPoolSize: 20,
      retryWrites: false, // FerretDB v1 has no sessions; MongoDB is fine either way
      writeConcern: { ...DATABASE_CONCERNS.writeConcern },
      readConcern: { ...DATABASE_CONCERNS.readConcern },
      readPreference: DATABASE_CONCERNS.readPreference,
      autoIndex: true,
      bufferCommands: false,
    });
    connection.on('disconnected', () => logger.warn('database disconnected'));
    connection.on('reconnected', () => logger.info('database reconnected'));
    await connection.asPromise();
    return new Database(connection);
  }

  /** True when the server answers a ping within the timeout. */
  async isReachable(timeoutMs = 1500): Promise<boolean> {
    const db = this.connection.db;
    if (!db) return false;
    let timer: NodeJS.Timeout | undefined;
    try {
      const ping = db.command({ ping: 1 }).then(() => true);
      const timeout = new Promise<boolean>((resolve) => {
        timer = setTimeout(() => resolve(false), timeoutMs);
      });
      return await Promise.race([ping, timeout]);
    } catch {
      return false;
    } finally {
      if (timer) clearTimeout(timer);
    }
  }

  /** Creates declared indexes of every registered model (idempotent). */
  async syncIndexes(): Promise<void> {
    const models = Object.values(this.connection.models);
    await Promise.all(models.map((m) => m.init()));
    if (!this.#afterIndexes) return;
    const fields: Record<string, string[]> = {};
    for (const m of models) {
      const keys = m.schema.indexes().flatMap(([spec]) => Object.keys(spec));
      // booleans and dates gain nothing from a containment index (few values, or only ranges are asked)
      // eslint-disable-next-line @typescript-eslint/no-unnecessary-condition -- runtime input: the value comes from outside (database, request, parsed data) and may not match its declared type
      const topLevel = keys.filter((k) => k !== '_id' && !k.includes('.') && !['Boolean', 'Date'].includes(m.schema.path(k)?.instance ?? ''));
      // `_id` too: FerretDB's own `_id` index is a B-tree that its `@>` lookups cannot use
      fields[m.collection.collectionName] = ['_id', ...topLevel];
    }
    await this.#afterIndexes(fields);
  }

  async close(): Promise<void> {
    await this.connection.close();
  }
}
