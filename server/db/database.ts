import mongoose, { type Connection } from 'mongoose';
import type { Logger } from '../observability/logger';

/**
 * One mongoose connection for the platform. Writes use majority/journaled acknowledgement so an
 * acknowledged write survives a database restart; while the server is away the driver keeps
 * retrying and a request fails with 503 after `serverSelectionTimeoutMS` instead of hanging.
 */
export class Database {
  private constructor(readonly connection: Connection) {}

  static async connect(uri: string, dbName: string, logger: Logger): Promise<Database> {
    const connection = mongoose.createConnection(uri, {
      dbName,
      serverSelectionTimeoutMS: 5000,
      heartbeatFrequencyMS: 1000,
      connectTimeoutMS: 5000,
      maxPoolSize: 20,
      retryWrites: false, // FerretDB v1 has no sessions; MongoDB is fine either way
      writeConcern: { w: 'majority', j: true },
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
    await Promise.all(Object.values(this.connection.models).map((m) => m.init()));
  }

  async close(): Promise<void> {
    await this.connection.close();
  }
}
