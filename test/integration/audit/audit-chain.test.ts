import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import path from 'node:path';
import { auditAnchorModel, auditCheckpointModel, auditEntryModel } from '../../../models/audit-entry';
import { AuditLog, auditOptionsFrom, type AuditRecordInput } from '../../../server/audit/audit-log';
import { canonicalJson, sha256Hex } from '../../../server/integrity/canonical-json';
import { DEMO, startTestPlatform, type TestPlatform } from '../../support/platform';

let tp: TestPlatform;
let entries: ReturnType<typeof auditEntryModel>;

beforeAll(async () => {
  tp = await startTestPlatform();
  entries = auditEntryModel(tp.platform.db.database.connection);
  for (let i = 0; i < 6; i++) {
    await tp.platform.audit.record({
      kind: 'patient-record',
      action: 'R',
      success: true,
      agent: { userId: 'usr-specialist', ip: '127.0.0.1' },
      patientId: `pat-${i}`,
      entities: [`Patient/pat-${i}`],
    });
  }
});
afterAll(async () => {
  await tp.close();
});

async function verifyViaApi() {
  const admin = await tp.login(DEMO.admin);
  return tp.api('GET', '/api/admin/audit/verify', { token: admin.accessToken });
}

test('an untouched chain verifies, through the API too', async () => {
  const res = await verifyViaApi();
  expect(res.status).toBe(200);
  expect(res.body).toMatchObject({ ok: true });
  expect(res.body.entries).toBeGreaterThanOrEqual(6);
});

test("reading the trail is itself audited: who listed which patient's entries, who verified", async () => {
  const admin = await tp.login(DEMO.admin);
  const listed = await tp.api('GET', '/api/admin/audit/events?patient=pat-2&limit=5', { token: admin.accessToken });
  expect(listed.status).toBe(200);
  await tp.api('GET', '/api/admin/audit/verify', { token: admin.accessToken });
  await tp.platform.audit.flush();
  const reads = await entries.find({ kind: 'admin' }).sort({ _id: 1 }).lean();
  const descs = reads.map((e) => e.event as { outcomeDesc?: string; entity?: { what?: { reference?: string } }[] });
  expect(
    descs.some(
      (d) =>
        d.outcomeDesc === `read ${(listed.body as unknown[]).length} audit entries` && d.entity?.some((x) => x.what?.reference === 'AuditEvent?patient=pat-2'),
    ),
  ).toBe(true);
  expect(descs.some((d) => d.outcomeDesc === 'audit trail verified: intact')).toBe(true);
});

test('entries are FHIR AuditEvents linked by hash', async () => {
  const list = await entries.find().sort({ _id: 1 }).lean();
  expect(list[0]?.prevHash).toBe('0'.repeat(64));
  for (let i = 1; i < list.length; i++) expect(list[i]?.prevHash).toBe(list[i - 1]?.hash);
  const pat1 = list.find((e) => e.patientId === 'pat-1');
  expect(pat1?.event).toMatchObject({
    resourceType: 'AuditEvent',
    action: 'R',
    outcome: '0',
    entity: [{ what: { reference: 'Patient/pat-1' } }, { what: { reference: 'Patient/pat-1' } }],
  });
});

test('editing one entry is found and named', async () => {
  const victim = await entries.findById(3).lean();
  await entries.updateOne({ _id: 3 }, { $set: { 'event.outcome': '8' } });
  const result = await tp.platform.audit.verify();
  expect(result).toMatchObject({ ok: false, firstBadSeq: 3, problem: 'altered' });
  // editing only a flat query field is found too
  await entries.replaceOne({ _id: 3 }, victim!);
  await entries.updateOne({ _id: 4 }, { $set: { patientId: 'someone-else', action: 'D' } });
  expect(await tp.platform.audit.verify()).toMatchObject({ ok: false, firstBadSeq: 4, problem: 'altered' });
  await entries.updateOne({ _id: 4 }, { $set: { patientId: 'pat-3', action: 'R' } });
  expect((await tp.platform.audit.verify()).ok).toBe(true);
});

test('deleting an entry in the middle is found and named', async () => {
  const victim = await entries.findById(2).lean();
  await entries.deleteOne({ _id: 2 });
  expect(await tp.platform.audit.verify()).toMatchObject({ ok: false, firstBadSeq: 2, problem: 'removed' });
  await entries.create(victim!);
  expect((await tp.platform.audit.verify()).ok).toBe(true);
});

test('deleting the newest entries is found too', async () => {
  const last = await entries.findOne().sort({ _id: -1 }).lean();
  await entries.deleteOne({ _id: last!._id });
  expect(await tp.platform.audit.verify()).toMatchObject({ ok: false, firstBadSeq: last!._id, problem: 'truncated' });
  await entries.create(last!);
  expect((await tp.platform.audit.verify()).ok).toBe(true);
});

test('concurrent writers never share a sequence number', async () => {
  await Promise.all(
    Array.from({ length: 20 }, (_, i) => tp.platform.audit.record({ kind: 'consult', action: 'R', success: true, agent: { userId: `u${i}` } })),
  );
  const result = await tp.platform.audit.verify();
  expect(result.ok).toBe(true);
});

test('the CLI verifies the chain and exits 1 naming a broken entry', async () => {
  const cli = path.resolve(__dirname, '../../../dist/server/audit/cli.js');
  expect(existsSync(cli)).toBe(true); // built by scripts/setup.sh
  // the CLI finds the checkpoint key where the server keeps it: in the data folder
  const env = {
    ...process.env,
    MONGODB_URI: process.env.HOICHAN_TEST_MONGODB_URI!,
    MONGODB_DB: tp.platform.db.database.connection.name,
    HOICHAN_DATA_DIR: tp.dataDir,
    NODE_ENV: 'test',
  };
  const ok = spawnSync(process.execPath, [cli], { env, encoding: 'utf8', timeout: 60000 });
  expect(ok.status).toBe(0);
  expect(JSON.parse(ok.stdout)).toMatchObject({ ok: true });
  await entries.updateOne({ _id: 5 }, { $set: { 'event.agent': [] } });
  const bad = spawnSync(process.execPath, [cli], { env, encoding: 'utf8', timeout: 60000 });
  expect(bad.status).toBe(1);
  expect(JSON.parse(bad.stdout)).toMatchObject({ ok: false, firstBadSeq: 5, problem: 'altered' });
  const res = await verifyViaApi();
  expect(res.status).toBe(409);
  expect(res.body.firstBadSeq).toBe(5);
});

const read = (i: number): AuditRecordInput => ({
  kind: 'patient-record',
  action: 'R',
  success: true,
  agent: { userId: `reader-${i % 4}` },
  patientId: `pat-${i % 50}`,
  entities: [`Observation/o-${i}`],
});

test('the CLI with another key reports the head as not keyed by it', async () => {
  const cli = path.resolve(__dirname, '../../../dist/server/audit/cli.js');
  await entries.updateOne({ _id: 5 }, { $set: { 'event.agent': (await entries.findById(4).lean())!.event.agent } }).catch(() => undefined);
  const env = {
    ...process.env,
    MONGODB_URI: process.env.HOICHAN_TEST_MONGODB_URI!,
    MONGODB_DB: tp.platform.db.database.connection.name,
    HOICHAN_AUDIT_KEY: 'some-other-key-that-is-long-enough-0123456789',
    NODE_ENV: 'test',
  };
  const other = spawnSync(process.execPath, [cli], { env, encoding: 'utf8', timeout: 60000 });
  expect(other.status).toBe(1);
  expect(JSON.parse(other.stdout)).toMatchObject({ ok: false, problem: 'rewritten' });
});

describe('group commit', () => {
  let conn: TestPlatform['platform']['db']['database']['connection'];
  beforeAll(async () => {
    // a database of its own, so the altered entries above do not matter
    conn = tp.platform.db.database.connection.useDb(`${tp.platform.db.database.connection.name}_gc`, { useCache: false });
    await auditEntryModel(conn).init();
  });
  afterAll(async () => {
    await conn.dropDatabase().catch(() => undefined);
  });
  const opts = () => ({ ...auditOptionsFrom(tp.platform.config), checkpointIntervalMs: 0 });

  test('entries of one turn are written together and each record() resolves with its own stored entry', async () => {
    const log = AuditLog.create(conn, opts());
    const stored = await Promise.all(Array.from({ length: 300 }, (_, i) => log.record(read(i))));
    expect(new Set(stored.map((e) => e._id)).size).toBe(300);
    for (const [i, e] of stored.entries())
      expect(e.event).toMatchObject({ entity: [{ what: { reference: `Patient/pat-${i % 50}` } }, { what: { reference: `Observation/o-${i}` } }] });
    const inDb = await auditEntryModel(conn).countDocuments();
    expect(inDb).toBe(300);
    expect(await log.verify()).toMatchObject({ ok: true, entries: 300 });
    await log.close();
  });

  test('two writers (as two server processes) appending while a verifier runs: one chain, never a false alarm', async () => {
    const a = AuditLog.create(conn, opts());
    const b = AuditLog.create(conn, opts());
    const verifier = AuditLog.create(conn, opts());
    let stop = false;
    const writes: Promise<unknown>[] = [];
    const writer = async (log: AuditLog, base: number) => {
      for (let round = 0; round < 25; round++) {
        writes.push(...Array.from({ length: 8 }, (_, i) => log.record(read(base + round * 8 + i))));
        await new Promise((r) => setTimeout(r, 2));
      }
    };
    const verdicts: { ok: boolean; message: string }[] = [];
    const verifying = (async () => {
      while (!stop) verdicts.push(await verifier.verify());
    })();
    await Promise.all([writer(a, 0), writer(b, 10_000)]);
    await Promise.all(writes);
    stop = true;
    await verifying;
    verdicts.push(await verifier.verify());
    expect(verdicts.length).toBeGreaterThan(1);
    expect(verdicts.filter((v) => !v.ok)).toEqual([]);
    const all = await auditEntryModel(conn).find().sort({ _id: 1 }).lean();
    expect(all).toHaveLength(300 + 400);
    for (let i = 1; i < all.length; i++) expect(all[i]?.prevHash).toBe(all[i - 1]?.hash);
    await Promise.all([a.close(), b.close(), verifier.close()]);
    expect(await verifier.verify()).toMatchObject({ ok: true, entries: 700 });
  });

  test('a whole-chain rewrite with recomputed hashes is caught by the keyed checkpoints, naming where it starts', async () => {
    const conn = tp.platform.db.database.connection.useDb(`${tp.platform.db.database.connection.name}_rw`, { useCache: false });
    const log = AuditLog.create(conn, opts());
    await Promise.all(Array.from({ length: 20 }, (_, i) => log.record(read(i))));
    await log.checkpoint();
    const firstCheckpoint = (await auditCheckpointModel(conn).findOne().sort({ _id: -1 }).lean())!._id;
    await Promise.all(Array.from({ length: 30 }, (_, i) => log.record(read(i))));
    await log.close(); // a checkpoint at the new head
    expect(await log.verify()).toMatchObject({ ok: true });
    // someone with database access edits entry firstCheckpoint + 10 and recomputes every hash after it, anchor included
    const model = auditEntryModel(conn);
    const all = await model
      .find({ _id: { $gt: firstCheckpoint } })
      .sort({ _id: 1 })
      .lean();
    let prevHash = (await model.findById(firstCheckpoint).lean())!.hash;
    for (const e of all) {
      const event = e._id === firstCheckpoint + 10 ? { ...e.event, outcome: '8' } : e.event;
      const hash = sha256Hex(canonicalJson({ seq: e._id, prevHash, event }));
      await model.replaceOne({ _id: e._id }, { ...e, prevHash, hash, event });
      prevHash = hash;
    }
    const last = all[all.length - 1]!;
    await auditAnchorModel(conn).updateOne({ _id: 'head' }, { $set: { seq: last._id, hash: prevHash } });
    const result = await log.verify();
    expect(result).toMatchObject({ ok: false, problem: 'rewritten', firstBadSeq: firstCheckpoint + 1 });
    expect(result.message).toMatch(new RegExp(`after entry ${firstCheckpoint}`));
    // the checkpoints cannot be forged either: recomputing them without the key is named as such
    await auditCheckpointModel(conn).updateOne({ _id: last._id }, { $set: { hash: prevHash } });
    const forged = AuditLog.create(conn, { checkpointKey: 'a-guessed-key-that-is-long-enough-0123456789', checkpointIntervalMs: 0 });
    expect(await forged.verify()).toMatchObject({ ok: false, problem: 'rewritten' });
    await forged.close();
    await conn.dropDatabase().catch(() => undefined);
  });
});
