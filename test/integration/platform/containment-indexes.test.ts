/**
 * The embedded PostgreSQL's GIN indexes (EmbeddedPostgres.ensureContainmentIndexes) on a real
 * cluster: made without a pending list, switched and merged when an earlier start made them with
 * one, and the table analysed when it changed since, so a search reads a few index pages instead of
 * every entry written since the last vacuum; documents compressed with lz4.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { EmbeddedPostgres, findPostgresBinDir } from '../../../server/db/embedded-postgres';
import { createLogger } from '../../../server/observability/logger';

const binDir = findPostgresBinDir(process.env.HOICHAN_PG_BIN_DIR);
const describeWithPostgres = binDir ? describe : describe.skip;

describeWithPostgres('embedded PostgreSQL containment indexes', () => {
  let dataDir: string;
  let pg: EmbeddedPostgres;
  beforeAll(async () => {
    dataDir = mkdtempSync(path.join(os.tmpdir(), 'hoichan-gin-'));
    pg = await EmbeddedPostgres.start({ binDir: binDir!, dataDir, logger: createLogger('silent') });
    // what FerretDB keeps for a collection: its metadata row and a table of one jsonb column
    await pg.sql(
      [
        'CREATE SCHEMA clinic',
        'CREATE TABLE clinic._ferretdb_database_metadata (_jsonb jsonb)',
        `INSERT INTO clinic._ferretdb_database_metadata VALUES ('{"_id": "records", "table": "records_1"}')`,
        'CREATE TABLE clinic.records_1 (_jsonb jsonb)',
        // as an earlier version made it: GIN's default pending list
        `CREATE INDEX "records_1_tokens_gin" ON clinic.records_1 USING gin ((_jsonb->'tokens') jsonb_path_ops)`,
        `INSERT INTO clinic.records_1 SELECT jsonb_build_object('_id', 'r' || i, 'type', 'Observation', 'tokens', jsonb_build_array('code||' || (i % 50), 'category||laboratory')) FROM generate_series(1, 2000) i`,
        'CREATE EXTENSION IF NOT EXISTS pgstattuple',
      ].join('; '),
    );
  }, 60_000);
  afterAll(async () => {
    await pg.stop();
    rmSync(dataDir, { recursive: true, force: true });
  });

  const fastupdate = (index: string) => pg.sql(`SELECT coalesce(array_to_string(reloptions, ','), '') FROM pg_class WHERE relname = '${index}'`);
  const pendingPages = async (index: string) => Number(await pg.sql(`SELECT pending_pages FROM pgstatginindex('clinic."${index}"')`));

  test('indexes have no pending list; an earlier one is switched and merged; a changed table is analysed', async () => {
    expect(await pendingPages('records_1_tokens_gin')).toBeGreaterThan(0); // the entries written wait there
    expect(await pg.sql(`SELECT count(*) FROM pg_stat_user_tables WHERE relname = 'records_1' AND last_analyze IS NOT NULL`)).toBe('0');

    expect(await pg.ensureContainmentIndexes('clinic', { records: ['tokens', 'type'] })).toEqual(['records.tokens', 'records.type']);

    for (const index of ['records_1_tokens_gin', 'records_1_type_gin']) {
      expect(await fastupdate(index)).toBe('fastupdate=off');
      expect(await pendingPages(index)).toBe(0);
    }
    expect(await pg.sql(`SELECT count(*) FROM pg_stat_user_tables WHERE relname = 'records_1' AND last_analyze IS NOT NULL`)).toBe('1');
    // documents written from now on: lz4 where this PostgreSQL has it
    const lz4 = (await pg.sql(`SELECT count(*) FROM pg_settings WHERE name = 'default_toast_compression' AND 'lz4' = ANY(enumvals)`)) === '1';
    expect(await pg.sql(`SELECT attcompression FROM pg_attribute WHERE attrelid = 'clinic.records_1'::regclass AND attname = '_jsonb'`)).toBe(lz4 ? 'l' : '');
    // new entries go straight into the index
    await pg.sql(`INSERT INTO clinic.records_1 VALUES ('{"_id": "new", "type": "Patient", "tokens": ["identifier||1"]}')`);
    expect(await pendingPages('records_1_tokens_gin')).toBe(0);
    // the planner answers a lookup from the selective key's index alone, not intersected with every Observation's entry
    const plan = await pg.sql(`EXPLAIN SELECT _jsonb FROM clinic.records_1 WHERE _jsonb->'type' @> '"Observation"' AND _jsonb->'tokens' @> '"code||7"'`);
    expect(plan).toContain('records_1_tokens_gin');
    expect(plan).not.toContain('records_1_type_gin');
    expect(plan).not.toContain('BitmapAnd');
  }, 60_000);
});
