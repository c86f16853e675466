/**
 * The write and read concerns the platform states (server/db/database.ts DATABASE_CONCERNS) are the
 * ones its connection sends, the database accepts them on every kind of command the platform uses,
 * and a write acknowledged to one connection is read by another at once (two server processes share
 * one database). Runs against the test database: FerretDB on SQLite, on PostgreSQL in the second
 * pass (scripts/test.sh), or the server named by HOICHAN_TEST_MONGODB_URI (e.g. a MongoDB 7 replica set).
 */
import { randomUUID } from 'node:crypto';
import { Schema } from 'mongoose';
import { DATABASE_CONCERNS, Database } from '../../../server/db/database';
import { createLogger } from '../../../server/observability/logger';

const uri = (): string => {
  const u = process.env.HOICHAN_TEST_MONGODB_URI;
  if (!u) throw new Error('HOICHAN_TEST_MONGODB_URI is unset: the jest global setup starts the test database');
  return u;
};

describe('database write and read concerns', () => {
  const dbName = `concerns_${randomUUID().slice(0, 8)}`;
  let writer: Database;
  let reader: Database;

  beforeAll(async () => {
    writer = await Database.connect(uri(), dbName, createLogger('silent'));
    reader = await Database.connect(uri(), dbName, createLogger('silent'));
  });
  afterAll(async () => {
    await writer?.connection.dropDatabase().catch(() => undefined);
    await writer?.connection.close();
    await reader?.connection.close();
  });

  it('are the stated ones on the connection', () => {
    const db = writer.connection.db;
    expect(db?.writeConcern).toMatchObject({ w: 'majority', journal: true });
    expect(db?.readConcern?.level).toBe(DATABASE_CONCERNS.readConcern.level);
    expect(db?.readPreference.mode).toBe('primary');
  });

  it('are accepted on inserts, updates, finds, counts and aggregations, and a write acknowledged on one connection is read on another at once', async () => {
    const schema = new Schema({ _id: String, patientId: String, n: Number }, { versionKey: false });
    const W = writer.connection.model('ConcernProbe', schema, 'concern_probe');
    const R = reader.connection.model('ConcernProbe', schema, 'concern_probe');
    for (let i = 0; i < 20; i++) {
      await W.create({ _id: `p${i}`, patientId: 'pat-1', n: i });
      // Seen by the other connection as soon as the write is acknowledged (what a second server process relies on).
      expect(await R.findById(`p${i}`).lean()).toEqual({ _id: `p${i}`, patientId: 'pat-1', n: i });
      await W.updateOne({ _id: `p${i}` }, { $set: { n: i + 100 } });
      expect((await R.findById(`p${i}`).lean())?.n).toBe(i + 100);
    }
    expect(await R.countDocuments({ patientId: 'pat-1' })).toBe(20);
    const [sum] = await R.aggregate<{ total: number }>([{ $match: { patientId: 'pat-1' } }, { $group: { _id: null, total: { $sum: '$n' } } }]);
    expect(sum?.total).toBe(20 * 100 + (19 * 20) / 2);
  });
});
