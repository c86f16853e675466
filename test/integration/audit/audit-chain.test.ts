import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import path from 'node:path';
import { auditEntryModel } from '../../../models/audit-entry';
import { DEMO, startTestPlatform, type TestPlatform } from '../../support/platform';

let tp: TestPlatform;
let entries: ReturnType<typeof auditEntryModel>;

beforeAll(async () => {
  tp = await startTestPlatform();
  entries = auditEntryModel(tp.platform.db.database.connection);
  for (let i = 0; i < 6; i++) {
    await tp.platform.audit.record({ kind: 'patient-record', action: 'R', success: true, agent: { userId: 'usr-specialist', ip: '127.0.0.1' }, patientId: `pat-${i}`, entities: [`Patient/pat-${i}`] });
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

test('entries are FHIR AuditEvents linked by hash', async () => {
  const list = await entries.find().sort({ _id: 1 }).lean();
  expect(list[0]?.prevHash).toBe('0'.repeat(64));
  for (let i = 1; i < list.length; i++) expect(list[i]?.prevHash).toBe(list[i - 1]?.hash);
  const pat1 = list.find((e) => e.patientId === 'pat-1');
  expect(pat1?.event).toMatchObject({ resourceType: 'AuditEvent', action: 'R', outcome: '0', entity: [{ what: { reference: 'Patient/pat-1' } }, { what: { reference: 'Patient/pat-1' } }] });
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
  await Promise.all(Array.from({ length: 20 }, (_, i) => tp.platform.audit.record({ kind: 'consult', action: 'R', success: true, agent: { userId: `u${i}` } })));
  const result = await tp.platform.audit.verify();
  expect(result.ok).toBe(true);
});

test('the CLI verifies the chain and exits 1 naming a broken entry', async () => {
  const cli = path.resolve(__dirname, '../../../dist/server/audit/cli.js');
  expect(existsSync(cli)).toBe(true); // built by scripts/setup.sh
  const env = { ...process.env, MONGODB_URI: process.env.HOICHAN_TEST_MONGODB_URI!, MONGODB_DB: tp.platform.db.database.connection.name, NODE_ENV: 'test' };
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
