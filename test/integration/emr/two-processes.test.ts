/**
 * Two server processes on one database (as behind a load balancer): a write through one is seen by
 * the other's $summary and $everything at once, whatever either has in memory; each audits into a
 * chain of its own, and the trail verifies through either.
 */
import type { FhirBundle } from '../../../contracts/fhir';
import { fhirSummaryModel } from '../../../models/fhir-summary';
import { fhirResourceModel } from '../../../models/fhir-resource';
import { chainOf } from '../../../server/audit/trail-format';
import { syntheaTransactionBundle } from '../../fixtures/fhir/synthea-bundle';
import { DEMO, startTestPlatform, uniqueDbName, type TestPlatform } from '../../support/platform';

let a: TestPlatform;
let b: TestPlatform;
beforeAll(async () => {
  const db = uniqueDbName('two');
  // one audit key for both, as production requires (HOICHAN_AUDIT_KEY)
  const HOICHAN_AUDIT_KEY = 'two-processes-share-this-audit-key-0123456789';
  a = await startTestPlatform({ MONGODB_DB: db, HOICHAN_AUDIT_KEY });
  b = await startTestPlatform({ MONGODB_DB: db, HOICHAN_AUDIT_KEY });
});
afterAll(async () => {
  await b?.platform.close();
  await a?.close();
});

const fhir = async (tp: TestPlatform, method: string, path: string, body?: unknown) => {
  const token = (await tp.login(DEMO.referrer)).accessToken;
  return tp.api(method, `/fhir/R4${path}`, { token, body, headers: { 'content-type': 'application/fhir+json' } });
};
const conditions = (doc: FhirBundle) =>
  (doc.entry ?? []).filter((e) => e.resource?.resourceType === 'Condition').map((e) => (e.resource as { code?: { text?: string } }).code?.text);

test('a condition written through one process is in the next $summary of the other; the stored summary follows the compartment version', async () => {
  const imported = await fhir(a, 'POST', '', syntheaTransactionBundle({ seed: 21, encounters: 4, citizenId: '001090002121' }).bundle);
  expect(imported.status).toBe(200);
  const patientId = imported.body.entry[0].fullUrl.split('/')[1] as string;
  // the import stored the new patient's summary members, valid for the compartment version it left
  const atImport = await fhirSummaryModel(b.platform.db.database.connection).findById(patientId).lean();
  const patientAtImport = await fhirResourceModel(b.platform.db.database.connection).findById(`Patient/${patientId}`).lean();
  expect(atImport?.version).toBe(patientAtImport?.compartmentVersion);
  expect(JSON.parse(atImport?.membersJson ?? '[]')[0]).toMatchObject({ resourceType: 'Patient', id: patientId });
  const before = await fhir(b, 'GET', `/Patient/${patientId}/$summary`);
  expect(before.status).toBe(200);
  expect(conditions(before.body)).not.toContain('Lao phổi');
  await fhir(b, 'GET', `/Patient/${patientId}/$everything`); // b now holds the compartment in memory too
  const stored = await fhirSummaryModel(b.platform.db.database.connection).findById(patientId).lean();
  const patientDoc = await fhirResourceModel(b.platform.db.database.connection).findById(`Patient/${patientId}`).lean();
  expect(stored?.version).toBe(patientDoc?.compartmentVersion ?? 0);

  const created = await fhir(a, 'POST', '/Condition', {
    resourceType: 'Condition',
    clinicalStatus: { coding: [{ system: 'http://terminology.hl7.org/CodeSystem/condition-clinical', code: 'active' }] },
    code: { text: 'Lao phổi' },
    subject: { reference: `Patient/${patientId}` },
  });
  expect(created.status).toBe(201);
  const after = await fhir(b, 'GET', `/Patient/${patientId}/$summary`);
  expect(conditions(after.body)).toContain('Lao phổi');
  const everything = await fhir(b, 'GET', `/Patient/${patientId}/$everything`);
  expect(conditions(everything.body)).toContain('Lao phổi');
  expect((await fhirSummaryModel(b.platform.db.database.connection).findById(patientId).lean())?.version).toBeGreaterThan(stored!.version);
});

test('each process audits into a chain of its own; the trail verifies through either process', async () => {
  await Promise.all([a.platform.audit.flush(), b.platform.audit.flush()]);
  const entries = await a.platform.audit.list({}, 1000);
  const reads = entries.filter((e) => e.kind === 'patient-record');
  expect(new Set(reads.map((e) => chainOf(e._id))).size).toBe(2);
  for (const tp of [a, b]) {
    const admin = await tp.login(DEMO.admin);
    const res = await tp.api('GET', '/api/admin/audit/verify', { token: admin.accessToken });
    expect(res.status).toBe(200);
    expect(res.body).toMatchObject({ ok: true });
  }
});
