/**
 * The database going away and coming back: /readyz follows it, the platform recovers without a
 * restart, and no acknowledged write is lost. Uses real FerretDB processes.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { EmbeddedFerretDb, defaultFerretDbBin, freeLoopbackPort } from '../../../server/db/embedded-ferretdb';
import { findPostgresBinDir } from '../../../server/db/embedded-postgres';
import { createLogger } from '../../../server/observability/logger';
import { DEMO, startTestPlatform, type TestPlatform } from '../../support/platform';

const cache = process.env.HOICHAN_CACHE ?? path.join(os.homedir(), '.cache', 'hoichan');

async function waitFor(what: string, check: () => Promise<boolean>, timeoutMs = 30000): Promise<void> {
  const start = Date.now();
  while (Date.now() - start < timeoutMs) {
    if (await check()) return;
    await new Promise((r) => setTimeout(r, 200));
  }
  throw new Error(`timed out waiting for ${what}`);
}

const readyStatus = async (tp: TestPlatform) => (await tp.api('GET', '/readyz')).status;

async function writeAcknowledged(tp: TestPlatform, n: number, tag: string): Promise<void> {
  for (let i = 0; i < n; i++) {
    await tp.platform.audit.record({ kind: 'admin', action: 'C', success: true, outcomeDesc: `${tag}-${i}`, agent: { userId: 'usr-admin' } });
  }
}

async function countTagged(tp: TestPlatform, tag: string): Promise<number> {
  const all = await tp.platform.audit.list({}, 1000);
  // eslint-disable-next-line @typescript-eslint/no-unnecessary-type-conversion -- the value comes off the wire; String() keeps the test honest if it is not a string
  return all.filter((e) => String((e.event as { outcomeDesc?: string }).outcomeDesc ?? '').startsWith(tag)).length;
}

describe('embedded FerretDB (MONGODB_URI unset)', () => {
  let tp: TestPlatform;
  beforeAll(async () => {
    tp = await startTestPlatform({ MONGODB_URI: '' });
  });
  afterAll(async () => {
    await tp?.close();
  });

  test('killing FerretDB turns /readyz to 503; the supervisor restarts it and /readyz returns to 200', async () => {
    const embedded = tp.platform.db.embedded!;
    expect(embedded).toBeTruthy();
    expect(await readyStatus(tp)).toBe(200);
    await writeAcknowledged(tp, 5, 'before-kill');
    const pid = embedded.pid!;
    process.kill(pid, 'SIGKILL');
    await waitFor('/readyz 503', async () => (await readyStatus(tp)) === 503, 15000);
    await waitFor('/readyz 200 again', async () => (await readyStatus(tp)) === 200, 30000);
    expect(embedded.pid).not.toBe(pid);
    expect(embedded.restarts).toBeGreaterThanOrEqual(1);
    // nothing acknowledged before the crash is lost, and the platform works without a restart
    expect(await countTagged(tp, 'before-kill')).toBe(5);
    await waitFor(
      'login works',
      async () => (await tp.api('POST', '/api/auth/login', { body: { email: DEMO.admin, password: 'demo-password-for-tests' } })).status === 200,
    );
    expect((await tp.platform.audit.verify()).ok).toBe(true);
  });
});

const withPostgres = findPostgresBinDir() ? describe : describe.skip;

withPostgres('embedded FerretDB on the embedded PostgreSQL', () => {
  let tp: TestPlatform;
  beforeAll(async () => {
    tp = await startTestPlatform({ MONGODB_URI: '', HOICHAN_DB_HANDLER: 'postgresql' });
  });
  afterAll(async () => {
    await tp?.close();
  });

  test('killing PostgreSQL turns /readyz to 503; the supervisor restarts it and nothing acknowledged is lost', async () => {
    const postgres = tp.platform.db.postgres!;
    expect(postgres).toBeTruthy();
    expect(await readyStatus(tp)).toBe(200);
    await writeAcknowledged(tp, 5, 'before-pg-kill');
    const pid = postgres.pid!;
    process.kill(pid, 'SIGKILL');
    await waitFor('/readyz 503', async () => (await readyStatus(tp)) === 503, 15000);
    await waitFor('/readyz 200 again', async () => (await readyStatus(tp)) === 200, 45000);
    expect(postgres.pid).not.toBe(pid);
    // The database may answer a moment before the supervisor's own readiness poll counts the restart.
    await waitFor('the supervisor counted the restart', () => Promise.resolve(postgres.restarts >= 1), 15000);
    expect(await countTagged(tp, 'before-pg-kill')).toBe(5);
    await waitFor(
      'login works',
      async () => (await tp.api('POST', '/api/auth/login', { body: { email: DEMO.admin, password: 'demo-password-for-tests' } })).status === 200,
    );
    await writeAcknowledged(tp, 2, 'after-pg-kill');
    expect(await countTagged(tp, 'after-pg-kill')).toBe(2);
    expect((await tp.platform.audit.verify()).ok).toBe(true);
  });
});

describe('external MONGODB_URI', () => {
  let dataDir: string;
  let port: number;
  let external: EmbeddedFerretDb;
  let tp: TestPlatform;
  const logger = createLogger('silent');

  beforeAll(async () => {
    dataDir = mkdtempSync(path.join(os.tmpdir(), 'hoichan-external-db-'));
    port = await freeLoopbackPort();
    external = await EmbeddedFerretDb.start({ bin: process.env.FERRETDB_BIN ?? defaultFerretDbBin(cache), dataDir, port, logger });
    tp = await startTestPlatform({ MONGODB_URI: external.uri });
  });
  afterAll(async () => {
    await tp?.close();
    await external?.stop();
    rmSync(dataDir, { recursive: true, force: true });
  });

  test('a database that goes away and comes back is recovered; writes during the outage fail loudly, none acknowledged is lost', async () => {
    await writeAcknowledged(tp, 5, 'ext-before');
    await external.stop();
    await waitFor('/readyz 503', async () => (await readyStatus(tp)) === 503, 15000);
    // a write while the database is away is refused with 503, not silently dropped
    const admin = await tp.api('POST', '/api/auth/login', { body: { email: DEMO.admin, password: 'demo-password-for-tests' } });
    expect(admin.status).toBe(503);
    expect(admin.body.error).toBe('database_unavailable');
    external = await EmbeddedFerretDb.start({ bin: process.env.FERRETDB_BIN ?? defaultFerretDbBin(cache), dataDir, port, logger });
    await waitFor('/readyz 200 again', async () => (await readyStatus(tp)) === 200, 30000);
    expect(await countTagged(tp, 'ext-before')).toBe(5);
    await writeAcknowledged(tp, 2, 'ext-after');
    expect(await countTagged(tp, 'ext-after')).toBe(2);
  });
});
