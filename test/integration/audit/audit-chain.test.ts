import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import path from 'node:path';
import { auditAnchorModel, auditCheckpointModel, auditEntryModel, type StoredAuditEntry } from '../../../models/audit-entry';
import { AuditLog, auditOptionsFrom, checkpointMac, GENESIS_HASH, type AuditRecordInput } from '../../../server/audit/audit-log';
import { anchorIdOf, CHAIN_SPAN, chainOf, registerMac } from '../../../server/audit/trail-format';
import { canonicalJson, sha256Hex } from '../../../server/integrity/canonical-json';
import { DEMO, startTestPlatform, type TestPlatform } from '../../support/platform';

let tp: TestPlatform;
let entries: ReturnType<typeof auditEntryModel>;
/** The id of the platform's n-th entry: its chain's base + n. */
let id: (n: number) => number;

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
  const first = (await entries.findOne({}, { _id: 1 }).sort({ _id: 1 }).lean())!._id;
  id = (n) => first - 1 + n;
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
  const victim = await rawEntry(entries, id(3));
  expect(victim.eventJson).toContain('"outcome":"0"');
  await entries.updateOne({ _id: id(3) }, { $set: { eventJson: victim.eventJson!.replace('"outcome":"0"', '"outcome":"8"') } });
  expect(await tp.platform.audit.verify()).toMatchObject({ ok: false, firstBadSeq: id(3), problem: 'altered' });
  // the same event in other JSON text (keys reordered, spaces) is an edit of what was hashed too
  await entries.updateOne({ _id: id(3) }, { $set: { eventJson: JSON.stringify(JSON.parse(victim.eventJson!) as unknown, null, 1) } });
  expect(await tp.platform.audit.verify()).toMatchObject({ ok: false, firstBadSeq: id(3), problem: 'altered' });
  // a nested `event` put beside the text changes nothing readers see: they read the hashed text
  await restore(entries, victim);
  await entries.updateOne({ _id: id(3) }, { $set: { 'event.outcome': '8' } });
  expect((await entries.findById(id(3)).lean())?.event).toMatchObject({ outcome: '0' });
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
  const victim = await rawEntry(entries, id(4));
  await restore(entries, { ...victim, ...change });
  expect(await tp.platform.audit.verify()).toMatchObject({ ok: false, firstBadSeq: id(4), problem: 'altered' });
  await restore(entries, victim);
  expect((await tp.platform.audit.verify()).ok).toBe(true);
});

test('deleting an entry in the middle is found and named', async () => {
  const victim = await rawEntry(entries, id(2));
  await entries.deleteOne({ _id: id(2) });
  expect(await tp.platform.audit.verify()).toMatchObject({ ok: false, firstBadSeq: id(2), problem: 'removed' });
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
  fifth = await rawEntry(entries, id(5));
  await entries.updateOne({ _id: id(5) }, { $set: { eventJson: fifth.eventJson!.replace(/"agent":\[.*?\],"entity"/, '"agent":[],"entity"') } });
  const bad = spawnSync(process.execPath, [cli], { env, encoding: 'utf8', timeout: 60000 });
  expect(bad.status).toBe(1);
  expect(JSON.parse(bad.stdout)).toMatchObject({ ok: false, firstBadSeq: id(5), problem: 'altered' });
  const res = await verifyViaApi();
  expect(res.status).toBe(409);
  expect(res.body.firstBadSeq).toBe(id(5));
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

  /** A database of its own for one test. */
  const dbOf = (name: string) => tp.platform.db.database.connection.useDb(`${tp.platform.db.database.connection.name}_${name}`, { useCache: false });
  /** The stored entries of one chain, in order. */
  const chainRows = async (c: typeof conn, chain: number) =>
    (
      await rows(auditEntryModel(c))
        .find({}, { sort: { _id: 1 } })
        .toArray()
    ).filter((e) => chainOf(e._id) === chain);

  test('two writers (as two server processes) appending while a verifier runs: a chain each, never a false alarm', async () => {
    // checkpoints every few ms, so the verifier meets them being written too
    const a = AuditLog.create(conn, { ...opts(), checkpointIntervalMs: 5 });
    const b = AuditLog.create(conn, { ...opts(), checkpointIntervalMs: 5 });
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
    const stored = (await Promise.all(writes)) as { _id: number }[];
    stop = true;
    await verifying;
    verdicts.push(await verifier.verify());
    expect(verdicts.length).toBeGreaterThan(1);
    expect(verdicts.filter((v) => !v.ok)).toEqual([]);
    // two chains besides the first test's, each dense and linked from the genesis; no writer waited for the other
    const chains = [...new Set(stored.map((e) => chainOf(e._id)))];
    expect(chains).toHaveLength(2);
    expect(a.stats).toMatchObject({ chainsRegistered: 1, chainsLost: 0, entries: 200 });
    expect(b.stats).toMatchObject({ chainsRegistered: 1, chainsLost: 0, entries: 200 });
    for (const chain of chains) {
      const own = await chainRows(conn, chain);
      expect(own.map((e) => e._id - chain * CHAIN_SPAN)).toEqual(Array.from({ length: 200 }, (_, i) => i + 1));
      expect(own[0]?.prevHash).toBe(GENESIS_HASH);
      for (let i = 1; i < own.length; i++) expect(own[i]?.prevHash).toBe(own[i - 1]?.hash);
    }
    expect(await auditEntryModel(conn).countDocuments()).toBe(300 + 400);
    await Promise.all([a.close(), b.close(), verifier.close()]);
    expect(await verifier.verify()).toMatchObject({ ok: true, entries: 700 });
    // the admin list interleaves the chains by time, newest first
    const listed = await verifier.list({}, 1000);
    expect(listed).toHaveLength(700);
    for (let i = 1; i < listed.length; i++) expect(listed[i - 1]!.recorded >= listed[i]!.recorded).toBe(true);
  });

  describe('tampering with one chain of several', () => {
    let c: typeof conn;
    let chainA: number;
    let chainB: number;
    let verifier: AuditLog;
    beforeAll(async () => {
      c = dbOf('tamper');
      const a = AuditLog.create(c, opts());
      const b = AuditLog.create(c, opts());
      // three batches each, written at the same time
      for (let round = 0; round < 3; round++) await Promise.all(Array.from({ length: 10 }, (_, i) => (i % 2 ? a : b).record(read(round * 10 + i))));
      chainA = chainOf((await a.record(read(99)))._id);
      chainB = chainOf((await b.record(read(98)))._id);
      await Promise.all([a.close(), b.close()]);
      verifier = AuditLog.create(c, opts());
      expect(chainA).not.toBe(chainB);
      expect(await verifier.verify()).toMatchObject({ ok: true, entries: 32 });
    });
    afterAll(async () => {
      await verifier.close();
      await c.dropDatabase().catch(() => undefined);
    });
    const model = () => auditEntryModel(c);
    const anchors = () => auditAnchorModel(c);

    test('an edited entry is named in its chain', async () => {
      const victim = (await chainRows(c, chainB))[7]!;
      await model().updateOne({ _id: victim._id }, { $set: { eventJson: victim.eventJson!.replace('"outcome":"0"', '"outcome":"4"') } });
      const result = await verifier.verify();
      expect(result).toMatchObject({ ok: false, firstBadSeq: victim._id, problem: 'altered' });
      expect(result.message).toContain(`chain ${chainB}, entry 8`);
      await restore(model(), victim);
      expect((await verifier.verify()).ok).toBe(true);
    });

    test('a deleted chain (its entries and its head) is found', async () => {
      const own = await chainRows(c, chainA);
      const head = (await anchors().findById(anchorIdOf(chainA)).lean())!;
      await model().deleteMany({ _id: { $gt: chainA * CHAIN_SPAN, $lt: (chainA + 1) * CHAIN_SPAN } });
      expect(await verifier.verify()).toMatchObject({ ok: false, problem: 'truncated', firstBadSeq: chainA * CHAIN_SPAN + 1 });
      await anchors().deleteOne({ _id: anchorIdOf(chainA) });
      expect(await verifier.verify()).toMatchObject({ ok: false, problem: 'removed', firstBadSeq: chainA * CHAIN_SPAN + 1 });
      // and the register cannot be turned back without the key, nor removed
      const register = (await anchors().findById('chains').lean())!;
      await anchors().updateOne({ _id: 'chains' }, { $set: { seq: Math.min(chainA, chainB) - 1 } });
      expect(await verifier.verify()).toMatchObject({ ok: false, problem: 'rewritten' });
      await anchors().deleteOne({ _id: 'chains' });
      expect(await verifier.verify()).toMatchObject({ ok: false, problem: 'removed' });
      await anchors().create(register);
      await anchors().create(head);
      await rows(model()).insertMany(own);
      expect((await verifier.verify()).ok).toBe(true);
    });

    test('a deleted last batch of a chain is found', async () => {
      const own = await chainRows(c, chainB);
      const lastBatch = own.slice(-6); // the last round's 5 and the single entry after it
      for (const e of lastBatch) await model().deleteOne({ _id: e._id });
      expect(await verifier.verify()).toMatchObject({ ok: false, problem: 'truncated', firstBadSeq: lastBatch[0]!._id });
      await rows(model()).insertMany(lastBatch);
      expect((await verifier.verify()).ok).toBe(true);
    });

    test('reordered entries, and an entry moved to another chain, are found', async () => {
      const own = await chainRows(c, chainA);
      const [x, y] = [own[3]!, own[4]!];
      // swap the two entries' contents, each under the other's number
      await restore(model(), { ...y, _id: x._id });
      await restore(model(), { ...x, _id: y._id });
      expect(await verifier.verify()).toMatchObject({ ok: false, firstBadSeq: x._id, problem: 'chain-broken' });
      await restore(model(), x);
      await restore(model(), y);
      expect((await verifier.verify()).ok).toBe(true);
      // an entry of chain B put into chain A's place: its hash covers its own number and chain
      const other = (await chainRows(c, chainB))[3]!;
      await restore(model(), { ...other, _id: x._id, prevHash: own[2]!.hash });
      expect(await verifier.verify()).toMatchObject({ ok: false, firstBadSeq: x._id, problem: 'altered' });
      await restore(model(), x);
      expect((await verifier.verify()).ok).toBe(true);
    });

    test("a chain's head rewritten without the key is named as a rewrite", async () => {
      const own = await chainRows(c, chainB);
      const at = own[own.length - 3]!;
      await anchors().updateOne({ _id: anchorIdOf(chainB) }, { $set: { seq: at._id, hash: at.hash } });
      expect(await verifier.verify()).toMatchObject({ ok: false, problem: 'rewritten' });
      // a head moved back to an earlier entry of the chain with a valid key (as a writer that died before moving it): the entries after it are checked as they follow on
      await anchors().updateOne({ _id: anchorIdOf(chainB) }, { $set: { mac: checkpointMac(opts().checkpointKey, at._id, at.hash) } });
      const behind = await verifier.verify();
      expect(behind).toMatchObject({ ok: true, entries: 32 });
      expect(behind.message).toContain('2 of them after their chain');
      const after = own[own.length - 1]!;
      await model().updateOne({ _id: after._id }, { $set: { success: false } });
      expect(await verifier.verify()).toMatchObject({ ok: false, problem: 'altered', firstBadSeq: after._id });
      await restore(model(), after);
      const last = own[own.length - 1]!;
      await anchors().updateOne(
        { _id: anchorIdOf(chainB) },
        { $set: { seq: last._id, hash: last.hash, mac: checkpointMac(opts().checkpointKey, last._id, last.hash) } },
      );
      expect((await verifier.verify()).ok).toBe(true);
    });
  });

  test('a writer whose chain is written by another writer too (a restored copy) goes on in a new chain, and both verify', async () => {
    const c = dbOf('twin');
    const first = AuditLog.create(c, opts());
    await Promise.all(Array.from({ length: 5 }, (_, i) => first.record(read(i))));
    const chain = chainOf((await auditEntryModel(c).findOne().lean())!._id);
    // a register and an anchor as if the chain were free again (a restored copy of the database):
    // a second process takes the same chain number, and its first entry's number is taken
    await auditAnchorModel(c).updateOne({ _id: 'chains' }, { $set: { seq: chain - 1, mac: registerMac(opts().checkpointKey, chain - 1) } });
    await auditAnchorModel(c).deleteOne({ _id: anchorIdOf(chain) });
    const twin = AuditLog.create(c, opts());
    const moved = await twin.record(read(50));
    expect(twin.stats).toMatchObject({ chainsLost: 1, chainsRegistered: 2 });
    expect(chainOf(moved._id)).toBe(chain + 1);
    await Promise.all([first.close(), twin.close()]);
    // the first writer's entries stay as written, after the re-created (empty) head of their chain, and verify
    expect(await chainRows(c, chain)).toHaveLength(5);
    expect(await twin.verify()).toMatchObject({ ok: true, entries: 6 });
    await c.dropDatabase().catch(() => undefined);
  });

  test('a trail written before chains (nested `event`, then `eventJson`, with its `head` anchor and checkpoints) verifies as chain 0, and writers go on in chains of their own', async () => {
    const conn = dbOf('legacy');
    const model = auditEntryModel(conn);
    await model.init();
    const { checkpointKey } = opts();
    // Six entries as the earlier versions wrote them: 1–3 with the nested event, 4–6 with the event's
    // canonical JSON in `eventJson`; hash over canonical JSON of {seq, prevHash, event}, `_id` = seq.
    let prevHash = GENESIS_HASH;
    const old: StoredAuditEntry[] = [];
    for (let seq = 1; seq <= 6; seq++) {
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
        ...(seq <= 3 ? { event } : { eventJson: canonicalJson(event) }),
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
    await auditCheckpointModel(conn).create({ _id: 4, hash: old[3]!.hash, at: old[3]!.recorded, mac: checkpointMac(checkpointKey, 4, old[3]!.hash) });
    // the anchor as the single-chain writer left it, with its contention hint
    await rows(auditAnchorModel(conn) as unknown as Entries).insertOne({
      _id: 'head',
      seq: 6,
      hash: prevHash,
      mac: checkpointMac(checkpointKey, 6, prevHash),
      contendedUntil: Date.now(),
    } as unknown as StoredAuditEntry);

    const log = AuditLog.create(conn, opts());
    expect(await log.verify()).toMatchObject({ ok: true, entries: 6 });
    const added = await Promise.all(Array.from({ length: 5 }, (_, i) => log.record(read(i))));
    const chain = chainOf(added[0]!._id);
    expect(chain).toBe(1);
    expect(added.map((e) => e._id)).toEqual([1, 2, 3, 4, 5].map((n) => CHAIN_SPAN + n));
    expect((await rawEntry(model, CHAIN_SPAN + 1)).prevHash).toBe(GENESIS_HASH);
    expect(await log.verify()).toMatchObject({ ok: true, entries: 11 });
    // readers see the event of both shapes, newest first
    const listed = await log.list({}, 100);
    expect(listed.map((e) => e._id)).toEqual([...added.map((e) => e._id).reverse(), 6, 5, 4, 3, 2, 1]);
    expect(listed.find((e) => e._id === 2)?.event).toMatchObject({ id: 'old-2', entity: [{ what: { reference: 'Patient/pat-old-2' } }] });
    expect(listed.find((e) => e._id === 5)?.event).toMatchObject({ id: 'old-5' });
    expect(listed.find((e) => e._id === CHAIN_SPAN + 2)?.event).toMatchObject({
      entity: [{ what: { reference: 'Patient/pat-1' } }, { what: { reference: 'Observation/o-1' } }],
    });
    expect((await log.list({ patientId: 'pat-old-1' }))[0]?.event).toMatchObject({ id: 'old-1' });
    // tampering with the old chain is found in either shape, and so are its removal and truncation
    await model.updateOne({ _id: 2 }, { $set: { 'event.outcome': '8' } });
    expect(await log.verify()).toMatchObject({ ok: false, firstBadSeq: 2, problem: 'altered' });
    await restore(model, old[1]!);
    await model.updateOne({ _id: 2 }, { $set: { patientId: 'pat-someone-else' } });
    expect(await log.verify()).toMatchObject({ ok: false, firstBadSeq: 2, problem: 'altered' });
    await restore(model, old[1]!);
    await model.updateOne({ _id: 5 }, { $set: { eventJson: old[4]!.eventJson!.replace('"outcome":"0"', '"outcome":"4"') } });
    expect(await log.verify()).toMatchObject({ ok: false, firstBadSeq: 5, problem: 'altered' });
    await restore(model, old[4]!);
    await model.deleteOne({ _id: 6 });
    expect(await log.verify()).toMatchObject({ ok: false, firstBadSeq: 6, problem: 'truncated' });
    await rows(model).insertOne(old[5]!);
    await auditAnchorModel(conn).deleteOne({ _id: 'head' });
    expect(await log.verify()).toMatchObject({ ok: false, problem: 'rewritten' });
    await rows(auditAnchorModel(conn) as unknown as Entries).insertOne({
      _id: 'head',
      seq: 6,
      hash: prevHash,
      mac: checkpointMac(checkpointKey, 6, prevHash),
    } as unknown as StoredAuditEntry);
    // a second writer appends in another new chain
    const next = AuditLog.create(conn, opts());
    expect(chainOf((await next.record(read(7)))._id)).toBe(2);
    await Promise.all([log.close(), next.close()]);
    expect(await log.verify()).toMatchObject({ ok: true, entries: 12 });
    await conn.dropDatabase().catch(() => undefined);
  });

  test('a whole-chain rewrite with recomputed hashes is caught by the keyed checkpoints, naming where it starts', async () => {
    const conn = dbOf('rw');
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
    await auditAnchorModel(conn).updateOne({ _id: anchorIdOf(chainOf(last._id)) }, { $set: { seq: last._id, hash: prevHash } });
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
