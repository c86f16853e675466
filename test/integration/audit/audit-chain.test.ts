import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import path from 'node:path';
import { auditAnchorModel, auditCheckpointModel, auditEntryModel, type StoredAuditEntry } from '../../../models/audit-entry';
import { AuditLog, auditOptionsFrom, checkpointMac, GENESIS_HASH, type AuditRecordInput } from '../../../server/audit/audit-log';
import { canonicalJson, sha256Hex } from '../../../server/integrity/canonical-json';
import { DEMO, startTestPlatform, type TestPlatform } from '../../support/platform';

let tp: TestPlatform;
let entries: ReturnType<typeof auditEntryModel>;

type Entries = ReturnType<typeof auditEntryModel>;
/** The entries as stored (the driver's collection: no decoding of `eventJson`), to read, tamper with and restore them. */
const rows = (model: Entries) => model.collection as unknown as import('mongoose').mongo.Collection<StoredAuditEntry>;
const rawEntry = async (model: Entries, seq: number) => (await rows(model).findOne({ _id: seq }))!;
/** Puts a stored entry back exactly as it was. */
const restore = (model: Entries, row: StoredAuditEntry) => rows(model).replaceOne({ _id: row._id }, row);

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
  // a projection naming `event` gets it too
  const projected = await entries.findById(pat1!._id, { event: 1 }).lean();
  expect(projected?.event).toEqual(pat1?.event);
  expect(projected).not.toHaveProperty('eventJson');
});

test('stored as the canonical JSON text of the event, which the hash covers as before', async () => {
  const stored = (await rows(entries).findOne({ patientId: 'pat-1' }))!;
  expect(stored.event).toBeUndefined();
  expect(typeof stored.eventJson).toBe('string');
  const event = JSON.parse(stored.eventJson!) as Record<string, unknown>;
  expect(stored.eventJson).toBe(canonicalJson(event));
  expect(stored.hash).toBe(sha256Hex(canonicalJson({ seq: stored._id, prevHash: stored.prevHash, event })));
  expect(stored).toMatchObject({ kind: 'patient-record', action: 'R', patientId: 'pat-1', agentUserId: 'usr-specialist', success: true, breakGlass: false });
});

test('editing one entry is found and named', async () => {
  const victim = await rawEntry(entries, 3);
  expect(victim.eventJson).toContain('"outcome":"0"');
  await entries.updateOne({ _id: 3 }, { $set: { eventJson: victim.eventJson!.replace('"outcome":"0"', '"outcome":"8"') } });
  expect(await tp.platform.audit.verify()).toMatchObject({ ok: false, firstBadSeq: 3, problem: 'altered' });
  // the same event in other JSON text (keys reordered, spaces) is an edit of what was hashed too
  await entries.updateOne({ _id: 3 }, { $set: { eventJson: JSON.stringify(JSON.parse(victim.eventJson!) as unknown, null, 1) } });
  expect(await tp.platform.audit.verify()).toMatchObject({ ok: false, firstBadSeq: 3, problem: 'altered' });
  // a nested `event` put beside the text changes nothing readers see: they read the hashed text
  await restore(entries, victim);
  await entries.updateOne({ _id: 3 }, { $set: { 'event.outcome': '8' } });
  expect((await entries.findById(3).lean())?.event).toMatchObject({ outcome: '0' });
  await restore(entries, victim);
  expect((await tp.platform.audit.verify()).ok).toBe(true);
});

test.each([
  ['patientId', { patientId: 'someone-else' }],
  ['patientId removed', { patientId: undefined }],
  ['agentUserId', { agentUserId: 'usr-other' }],
  ['action', { action: 'D' }],
  ['kind', { kind: 'consult' }],
  ['recorded', { recorded: '2020-01-01T00:00:00.000Z' }],
  ['success', { success: false }],
  ['breakGlass', { breakGlass: true }],
])('editing only the flat query field %s is found too', async (_field, change) => {
  const victim = await rawEntry(entries, 4);
  await restore(entries, { ...victim, ...change });
  expect(await tp.platform.audit.verify()).toMatchObject({ ok: false, firstBadSeq: 4, problem: 'altered' });
  await restore(entries, victim);
  expect((await tp.platform.audit.verify()).ok).toBe(true);
});

test('deleting an entry in the middle is found and named', async () => {
  const victim = await rawEntry(entries, 2);
  await entries.deleteOne({ _id: 2 });
  expect(await tp.platform.audit.verify()).toMatchObject({ ok: false, firstBadSeq: 2, problem: 'removed' });
  await rows(entries).insertOne(victim);
  expect((await tp.platform.audit.verify()).ok).toBe(true);
});

test('deleting the newest entries is found too', async () => {
  await tp.platform.audit.flush();
  const newest = (await entries.findOne({}, { _id: 1 }).sort({ _id: -1 }).lean())!._id;
  const last = await rawEntry(entries, newest);
  await entries.deleteOne({ _id: last._id });
  expect(await tp.platform.audit.verify()).toMatchObject({ ok: false, firstBadSeq: last._id, problem: 'truncated' });
  await rows(entries).insertOne(last);
  expect((await tp.platform.audit.verify()).ok).toBe(true);
});

test('concurrent writers never share a sequence number', async () => {
  await Promise.all(
    Array.from({ length: 20 }, (_, i) => tp.platform.audit.record({ kind: 'consult', action: 'R', success: true, agent: { userId: `u${i}` } })),
  );
  const result = await tp.platform.audit.verify();
  expect(result.ok).toBe(true);
});

let fifth: StoredAuditEntry | undefined;
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
  fifth = await rawEntry(entries, 5);
  await entries.updateOne({ _id: 5 }, { $set: { eventJson: fifth.eventJson!.replace(/"agent":\[.*?\],"entity"/, '"agent":[],"entity"') } });
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
  if (fifth) await restore(entries, fifth);
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

  test('a writer that starts while the anchor trails the stored head (its writer died before moving it) appends after the true head', async () => {
    const conn = tp.platform.db.database.connection.useDb(`${tp.platform.db.database.connection.name}_lag`, { useCache: false });
    const first = AuditLog.create(conn, opts());
    for (let round = 0; round < 3; round++) await Promise.all(Array.from({ length: 23 }, (_, i) => first.record(read(round * 23 + i))));
    await first.close();
    // the anchor as it was 62 entries ago, validly keyed
    const third = await rawEntry(auditEntryModel(conn), 7);
    await auditAnchorModel(conn).updateOne({ _id: 'head' }, { $set: { seq: 7, hash: third.hash, mac: checkpointMac(opts().checkpointKey, 7, third.hash) } });
    expect(await first.verify()).toMatchObject({ ok: true, entries: 7 });
    const next = AuditLog.create(conn, opts());
    expect((await next.record(read(100)))._id).toBe(70);
    expect((await rawEntry(auditEntryModel(conn), 70)).prevHash).toBe((await rawEntry(auditEntryModel(conn), 69)).hash);
    expect(await next.verify()).toMatchObject({ ok: true, entries: 70 });
    await next.close();
    await conn.dropDatabase().catch(() => undefined);
  });

  test('a trail written before events were stored as text (nested `event`) reads and verifies, then goes on in the new shape', async () => {
    const conn = tp.platform.db.database.connection.useDb(`${tp.platform.db.database.connection.name}_mixed`, { useCache: false });
    const model = auditEntryModel(conn);
    await model.init();
    const { checkpointKey } = opts();
    // Three entries as the earlier version wrote them: the nested event, hash over canonical JSON of {seq, prevHash, event}.
    let prevHash = GENESIS_HASH;
    const old: StoredAuditEntry[] = [];
    for (let seq = 1; seq <= 3; seq++) {
      const recorded = new Date(Date.UTC(2026, 10, seq)).toISOString();
      const event = {
        resourceType: 'AuditEvent',
        id: `old-${seq}`,
        extension: [{ url: 'http://hoichan.vn/fhir/StructureDefinition/audit-kind', valueString: 'patient-record' }],
        type: { system: 'http://dicom.nema.org/resources/ontology/DCM', code: '110110', display: 'Patient Record' },
        action: 'R',
        recorded,
        outcome: '0',
        agent: [{ who: { reference: 'Practitioner/usr-old' }, requestor: true, network: { address: '10.0.0.1', type: '2' } }],
        source: { observer: { display: 'hoichan' } },
        entity: [
          {
            what: { reference: `Patient/pat-old-${seq}` },
            type: { system: 'http://terminology.hl7.org/CodeSystem/audit-entity-type', code: '1', display: 'Person' },
            role: { system: 'http://terminology.hl7.org/CodeSystem/object-role', code: '1', display: 'Patient' },
          },
        ],
      };
      const hash = sha256Hex(canonicalJson({ seq, prevHash, event }));
      old.push({
        _id: seq,
        prevHash,
        hash,
        event,
        recorded,
        action: 'R',
        kind: 'patient-record',
        agentUserId: 'usr-old',
        patientId: `pat-old-${seq}`,
        breakGlass: false,
        success: true,
      });
      prevHash = hash;
    }
    await rows(model).insertMany(old);
    await auditAnchorModel(conn).create({ _id: 'head', seq: 3, hash: prevHash, mac: checkpointMac(checkpointKey, 3, prevHash) });

    const log = AuditLog.create(conn, opts());
    expect(await log.verify()).toMatchObject({ ok: true, entries: 3 });
    const added = await Promise.all(Array.from({ length: 5 }, (_, i) => log.record(read(i))));
    expect(added.map((e) => e._id)).toEqual([4, 5, 6, 7, 8]);
    expect((await rawEntry(model, 4)).prevHash).toBe(prevHash);
    expect(await log.verify()).toMatchObject({ ok: true, entries: 8 });
    // readers see the event of both shapes
    const listed = await log.list({}, 100);
    expect(listed.map((e) => e._id)).toEqual([8, 7, 6, 5, 4, 3, 2, 1]);
    expect(listed.find((e) => e._id === 2)?.event).toMatchObject({ id: 'old-2', entity: [{ what: { reference: 'Patient/pat-old-2' } }] });
    expect(listed.find((e) => e._id === 5)?.event).toMatchObject({
      entity: [{ what: { reference: 'Patient/pat-1' } }, { what: { reference: 'Observation/o-1' } }],
    });
    expect((await log.list({ patientId: 'pat-old-1' }))[0]?.event).toMatchObject({ id: 'old-1' });
    // tampering is found in either shape
    await model.updateOne({ _id: 2 }, { $set: { 'event.outcome': '8' } });
    expect(await log.verify()).toMatchObject({ ok: false, firstBadSeq: 2, problem: 'altered' });
    await restore(model, old[1]!);
    await model.updateOne({ _id: 2 }, { $set: { patientId: 'pat-someone-else' } });
    expect(await log.verify()).toMatchObject({ ok: false, firstBadSeq: 2, problem: 'altered' });
    await restore(model, old[1]!);
    const sixth = await rawEntry(model, 6);
    await model.updateOne({ _id: 6 }, { $set: { eventJson: sixth.eventJson!.replace('"outcome":"0"', '"outcome":"4"') } });
    expect(await log.verify()).toMatchObject({ ok: false, firstBadSeq: 6, problem: 'altered' });
    await restore(model, sixth);
    expect(await log.verify()).toMatchObject({ ok: true, entries: 8 });
    await log.close();
    await conn.dropDatabase().catch(() => undefined);
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
      const { event: original, ...flat } = e;
      const event = e._id === firstCheckpoint + 10 ? { ...original, outcome: '8' } : original;
      const hash = sha256Hex(canonicalJson({ seq: e._id, prevHash, event }));
      await restore(model, { ...flat, prevHash, hash, eventJson: canonicalJson(event) });
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
