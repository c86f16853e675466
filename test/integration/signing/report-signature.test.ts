/**
 * Certified report signatures against the real platform (real FerretDB): the JWS carries the
 * specialist's certificate chain issued by the hospital (demo) CA; verification names signer, time
 * and certificate and checks chain, validity and revocation; a revocation before the signing time
 * invalidates it, a later one does not; a report signed before certificates (bare key, no x5c) still
 * verifies; the signed report comes with a FHIR Provenance carrying its signature.
 */
import { generateKeyPairSync, sign as nodeSign } from 'node:crypto';
import * as x509 from '@peculiar/x509';
import { findDemoPatient, loginParty, requestConsult, transition, type ConsultParty } from '../../support/consult-flow';
import { DEMO, startTestPlatform, type TestPlatform } from '../../support/platform';
import { canonicalJson } from '../../../server/integrity/canonical-json';
import { jwkThumbprint } from '../../../server/signing/jws';

let tp: TestPlatform;
let referrer: ConsultParty;
let specialist: ConsultParty;
beforeAll(async () => {
  tp = await startTestPlatform();
  [referrer, specialist] = await Promise.all([loginParty(tp, DEMO.referrer), loginParty(tp, DEMO.specialist)]);
}, 120_000);
afterAll(async () => {
  await tp?.close();
});

async function signedConsult(): Promise<{ consultId: string; report: any }> {
  const patientId = await findDemoPatient(tp, referrer);
  const c = await requestConsult(tp, referrer, patientId);
  await transition(tp, specialist, c.id, 'accept', 'accepted');
  const res = await tp.api('POST', `/api/consults/${c.id}/report`, {
    token: specialist.token,
    body: { findings: 'Thâm nhiễm thùy trên phổi phải.', recommendation: 'GeneXpert đờm.' },
  });
  expect(res.status).toBe(201);
  return { consultId: c.id, report: res.body };
}

const db = () => tp.platform.db.database.connection;

test('certificate chain in the JWS; verification names signer, time, certificate; Provenance carries the signature', async () => {
  const { consultId, report } = await signedConsult();
  const header = JSON.parse(Buffer.from(report.signature.split('.')[0], 'base64url').toString());
  expect(header).toMatchObject({ alg: 'ES256', b64: false, crit: ['b64'], kid: report.kid });
  const [leaf, root] = (header.x5c as string[]).map((c) => new x509.X509Certificate(Buffer.from(c, 'base64')));
  expect(leaf!.subject).toContain('CN=PGS.TS. Trần Thị Bình');
  expect(leaf!.issuer).toBe(root!.subject);
  expect(await leaf!.verify({ publicKey: root!.publicKey, signatureOnly: true })).toBe(true);

  const v = await tp.api('GET', `/api/consults/${consultId}/report/verify`, { token: referrer.token });
  expect(v.body).toMatchObject({
    valid: true,
    legacy: false,
    signerName: 'PGS.TS. Trần Thị Bình',
    checks: { signature: true, chain: true, validity: true, revocation: true },
    certificate: { serialNumber: leaf!.serialNumber, organisation: 'Bệnh viện Bạch Mai' },
  });
  expect(Math.abs(new Date(v.body.signedAt).getTime() - new Date(report.signedAt).getTime())).toBeLessThan(2000);

  expect(report.provenance).toMatchObject({
    resourceType: 'Provenance',
    target: [{ reference: `DiagnosticReport/${report.resource.id}` }],
    agent: [{ who: { reference: `Practitioner/${specialist.userId}`, display: 'PGS.TS. Trần Thị Bình' } }],
  });
  expect(Buffer.from(report.provenance.signature[0].data, 'base64').toString()).toBe(report.signature);
  const bundle = await tp.api('GET', `/api/consults/${consultId}/fhir`, { token: referrer.token });
  expect(bundle.body.entry.map((e: any) => e.resource.resourceType)).toContain('Provenance');
});

test('revoked before signing: invalid (revocation check fails); revoked after: still valid', async () => {
  const { consultId, report } = await signedConsult();
  const serial = new x509.X509Certificate(Buffer.from(JSON.parse(Buffer.from(report.signature.split('.')[0], 'base64url').toString()).x5c[0], 'base64'))
    .serialNumber;
  const revocations = db().collection('signing_revocations');
  await revocations.insertOne({
    _id: serial as never,
    kid: report.kid,
    userId: specialist.userId,
    reason: 'test: revoked later',
    revokedAt: new Date(Date.now() + 60_000),
  });
  expect((await tp.api('GET', `/api/consults/${consultId}/report/verify`, { token: referrer.token })).body).toMatchObject({ valid: true });
  await revocations.updateOne({ _id: serial as never }, { $set: { revokedAt: new Date(Date.now() - 3_600_000) } });
  const v = await tp.api('GET', `/api/consults/${consultId}/report/verify`, { token: referrer.token });
  expect(v.body).toMatchObject({
    valid: false,
    checks: { signature: true, chain: true, validity: true, revocation: false },
    problem: expect.stringMatching(/revoked/),
  });
  await revocations.deleteOne({ _id: serial as never });
});

test('a report signed before certificates (bare key, no x5c) still verifies; altered, it fails', async () => {
  const { consultId, report } = await signedConsult();
  // Re-sign the stored version exactly as the hand-written code did before: node:crypto, kid only.
  const { publicKey, privateKey } = generateKeyPairSync('ec', { namedCurve: 'P-256' });
  const j = publicKey.export({ format: 'jwk' }) as { x: string; y: string };
  const kid = await jwkThumbprint({ kty: 'EC', crv: 'P-256', x: j.x, y: j.y });
  await db()
    .collection('signingkeys')
    .insertOne({
      _id: kid as never,
      userId: specialist.userId,
      alg: 'ES256',
      publicJwk: { kty: 'EC', crv: 'P-256', x: j.x, y: j.y },
      encryptedPrivateKey: { salt: 'x', iv: 'x', tag: 'x', ciphertext: 'x' },
      active: false,
      createdAt: new Date('2026-01-01'),
      retiredAt: new Date('2026-06-01'),
    });
  const h = Buffer.from(JSON.stringify({ alg: 'ES256', kid, b64: false, crit: ['b64'], typ: 'hoichan-consult-report+json', iat: 1767225600 })).toString(
    'base64url',
  );
  const sig = nodeSign('sha256', Buffer.concat([Buffer.from(`${h}.`), Buffer.from(canonicalJson(report.resource))]), {
    key: privateKey,
    dsaEncoding: 'ieee-p1363',
  }).toString('base64url');
  const reports = db().collection('consultreports');
  await reports.updateOne({ consultId, version: 1 }, { $set: { signature: `${h}..${sig}`, kid } });
  const v = await tp.api('GET', `/api/consults/${consultId}/report/verify`, { token: referrer.token });
  expect(v.body).toMatchObject({ valid: true, legacy: true, kid, checks: { signature: true, chain: null, validity: null, revocation: null } });
  expect(v.body.certificate).toBeUndefined();
  await reports.updateOne({ consultId, version: 1 }, { $set: { 'resource.conclusion': 'Bình thường' } });
  expect((await tp.api('GET', `/api/consults/${consultId}/report/verify`, { token: referrer.token })).body).toMatchObject({
    valid: false,
    legacy: true,
    checks: { signature: false },
  });
});
