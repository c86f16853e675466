import { createPublicKey, generateKeyPairSync, randomBytes, sign as nodeSign, webcrypto, type KeyObject } from 'node:crypto';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import * as x509 from '@peculiar/x509';
import { canonicalJson } from '../../../server/integrity/canonical-json';
import { verifyCertificatePath } from '../../../server/signing/hospital-ca';
import { decryptSecretBytes, encryptSecretBytes } from '../../../server/signing/key-encryption';
import { jwkThumbprint, signDetached, verifyDetached, type EcPublicJwk } from '../../../server/signing/jws';
import { runVerifyCli } from '../../../server/signing/verify-cli';

x509.cryptoProvider.set(webcrypto as unknown as Crypto);

async function keyPair() {
  const { publicKey, privateKey } = generateKeyPairSync('ec', { namedCurve: 'P-256' });
  const j = publicKey.export({ format: 'jwk' }) as { x: string; y: string };
  const jwk: EcPublicJwk = { kty: 'EC', crv: 'P-256', x: j.x, y: j.y };
  return { jwk, privateKey, publicKey, kid: await jwkThumbprint(jwk) };
}

const report = {
  resourceType: 'DiagnosticReport',
  id: 'c1-v1',
  status: 'final',
  conclusion: 'Lao phổi nghi ngờ',
  subject: { reference: 'Patient/p1' },
  n: 1.5,
};

/** The hand-written canonicalisation the project used before `canonicalize` (kept here as the reference). */
function legacyCanonicalJson(value: unknown): string {
  if (value === null || typeof value === 'boolean' || typeof value === 'string') return JSON.stringify(value);
  if (typeof value === 'number') return JSON.stringify(value);
  if (value instanceof Date) return JSON.stringify(value.toISOString());
  if (Array.isArray(value)) return `[${value.map((v) => (v === undefined ? 'null' : legacyCanonicalJson(v))).join(',')}]`;
  const obj = value as Record<string, unknown>;
  return `{${Object.keys(obj)
    .filter((k) => obj[k] !== undefined)
    .sort()
    .map((k) => `${JSON.stringify(k)}:${legacyCanonicalJson(obj[k])}`)
    .join(',')}}`;
}

/** A report signature exactly as the hand-written JWS code made them before `jose` (node:crypto, no x5c). */
function legacySign(document: unknown, privateKey: KeyObject, kid: string): string {
  const header = Buffer.from(JSON.stringify({ alg: 'ES256', kid, b64: false, crit: ['b64'], typ: 'hoichan-consult-report+json', iat: 1764000000 })).toString(
    'base64url',
  );
  const sig = nodeSign('sha256', Buffer.concat([Buffer.from(`${header}.`, 'ascii'), Buffer.from(legacyCanonicalJson(document), 'utf8')]), {
    key: privateKey,
    dsaEncoding: 'ieee-p1363',
  });
  return `${header}..${sig.toString('base64url')}`;
}

describe('canonical JSON (RFC 8785, canonicalize)', () => {
  test('same bytes as the earlier implementation (old hashes and signatures still verify)', () => {
    const samples: unknown[] = [
      report,
      { b: [1, 'é', { z: null, a: undefined, ä: true }], a: 1e21, c: -0, d: 0.1 + 0.2, e: new Date(0), '\u20ac': 'x', '\r': 1 },
      [undefined, 'x'],
      'đ',
      5,
    ];
    for (const s of samples) expect(canonicalJson(s)).toBe(legacyCanonicalJson(s));
  });
  test('RFC 8785 examples: number forms and key order by UTF-16 code units', () => {
    // eslint-disable-next-line no-loss-of-precision -- the literal is chosen to exercise number canonicalisation
    expect(canonicalJson({ numbers: [333333333.33333329, 1e30, 4.5, 2e-3, 0.000000000000000000000000001] })).toBe(
      '{"numbers":[333333333.3333333,1e+30,4.5,0.002,1e-27]}',
    );
    // RFC 8785 §3.2.3: keys sorted by UTF-16 code units (\r, 1, \u0080, ö, €, 😀 (a surrogate pair: 0xD83D), \ufb33).
    expect(canonicalJson({ '\u20ac': 1, '\r': 2, '\ufb33': 3, '1': 4, '\u{1f600}': 5, '\u0080': 6, '\u00f6': 7 })).toBe(
      '{"\\r":2,"1":4,"\u0080":6,"\u00f6":7,"\u20ac":1,"\u{1f600}":5,"\ufb33":3}',
    );
    expect(() => canonicalJson({ a: Number.NaN })).toThrow(/canonicalJson/);
  });
});

describe('detached JWS (ES256, b64:false, jose)', () => {
  let k: Awaited<ReturnType<typeof keyPair>>;
  let jws: string;
  beforeAll(async () => {
    k = await keyPair();
    jws = await signDetached(report, k.privateKey, k.kid, { typ: 'hoichan-consult-report+json' });
  });

  test('compact detached form with the RFC 7797 header', () => {
    const [h, p, s] = jws.split('.');
    expect(p).toBe('');
    expect(Buffer.from(s ?? '', 'base64url')).toHaveLength(64); // r||s
    expect(JSON.parse(Buffer.from(h ?? '', 'base64url').toString())).toEqual({
      alg: 'ES256',
      kid: k.kid,
      b64: false,
      crit: ['b64'],
      typ: 'hoichan-consult-report+json',
    });
  });

  test('verifies regardless of key order (canonical JSON), with the JWK or the key object', async () => {
    const reordered = {
      n: 1.5,
      subject: { reference: 'Patient/p1' },
      conclusion: 'Lao phổi nghi ngờ',
      status: 'final',
      id: 'c1-v1',
      resourceType: 'DiagnosticReport',
    };
    expect((await verifyDetached(reordered, jws, k.jwk)).valid).toBe(true);
    expect((await verifyDetached(report, jws, k.publicKey)).valid).toBe(true);
  });

  test('a report signed by the hand-written code before jose still verifies', async () => {
    const old = legacySign(report, k.privateKey, k.kid);
    expect(await verifyDetached(report, old, k.jwk)).toMatchObject({ valid: true, header: { iat: 1764000000 } });
    expect((await verifyDetached({ ...report, status: 'amended' }, old, k.jwk)).valid).toBe(false);
  });

  test('a changed report fails', async () => {
    expect(await verifyDetached({ ...report, conclusion: 'Bình thường' }, jws, k.jwk)).toMatchObject({
      valid: false,
      problem: expect.stringMatching(/does not match/),
    });
  });

  test("another signer's key fails (kid mismatch), and a forged kid fails on the signature", async () => {
    const other = await keyPair();
    expect(await verifyDetached(report, jws, other.jwk)).toMatchObject({ valid: false, problem: expect.stringMatching(/another key/) });
    const forged = await signDetached(report, other.privateKey, k.kid);
    expect((await verifyDetached(report, forged, k.jwk)).valid).toBe(false);
  });

  test('malformed signatures never throw', async () => {
    for (const bad of ['', 'a.b.c', 'x..y', `${jws}x`, jws.replace('..', '.e30.'), `${Buffer.from('{"alg":"none","kid":"k"}').toString('base64url')}..AA`]) {
      expect((await verifyDetached(report, bad, k.jwk)).valid).toBe(false);
    }
  });

  test('private key encryption: round trip, wrong secret and wrong AAD fail', () => {
    const plain = randomBytes(100);
    const blob = encryptSecretBytes(plain, 'secret-one-that-is-long-enough-000000', 'kid-1');
    expect(decryptSecretBytes(blob, 'secret-one-that-is-long-enough-000000', 'kid-1').equals(plain)).toBe(true);
    expect(() => decryptSecretBytes(blob, 'another-secret-that-is-long-enough-0000', 'kid-1')).toThrow();
    expect(() => decryptSecretBytes(blob, 'secret-one-that-is-long-enough-000000', 'kid-2')).toThrow();
  });
});

describe('X.509 certificate path (hospital CA → specialist)', () => {
  const EC = { name: 'ECDSA', namedCurve: 'P-256' };
  const ALG = { name: 'ECDSA', hash: 'SHA-256' };
  const b64 = (c: x509.X509Certificate) => Buffer.from(c.rawData).toString('base64');
  async function ca(name: string, isCa = true) {
    const keys = (await webcrypto.subtle.generateKey(EC, true, ['sign', 'verify'])) as unknown as CryptoKeyPair;
    const cert = await x509.X509CertificateGenerator.createSelfSigned({
      name: `CN=${name}`,
      keys,
      signingAlgorithm: ALG,
      notBefore: new Date(Date.now() - 3600_000),
      notAfter: new Date(Date.now() + 3600_000 * 24 * 365),
      extensions: [new x509.BasicConstraintsExtension(isCa, undefined, true)],
    });
    return { keys, cert };
  }
  async function leafFor(issuer: { keys: CryptoKeyPair; cert: x509.X509Certificate }, publicKey: KeyObject, valid: { from: Date; to: Date }) {
    const spki = publicKey.export({ format: 'der', type: 'spki' });
    const pub = (await webcrypto.subtle.importKey('spki', spki, EC, true, ['verify'])) as unknown as CryptoKey;
    return x509.X509CertificateGenerator.create({
      subject: [{ CN: ['PGS.TS. Trần Thị Bình'] }, { '0.9.2342.19200300.100.1.1': ['usr-specialist'] }],
      issuer: issuer.cert.subjectName,
      publicKey: pub,
      signingKey: issuer.keys.privateKey,
      signingAlgorithm: ALG,
      notBefore: valid.from,
      notAfter: valid.to,
      extensions: [new x509.BasicConstraintsExtension(false, undefined, true)],
    });
  }

  test('chain, validity at signing time, revocation; the CLI checks the chain against the root', async () => {
    const root = await ca('Bệnh viện Bạch Mai Root CA');
    const other = await ca('Some other CA');
    const k = await keyPair();
    const now = Date.now();
    const leaf = await leafFor(root, k.publicKey, { from: new Date(now - 60_000), to: new Date(now + 3600_000) });
    const x5c = [b64(leaf), b64(root.cert)];
    const ok = await verifyCertificatePath(x5c, new Date(), { anchors: [root.cert], revokedAt: async () => null });
    expect(ok).toMatchObject({
      ok: true,
      chain: true,
      validity: true,
      revocation: true,
      leaf: { commonName: 'PGS.TS. Trần Thị Bình', userId: 'usr-specialist' },
    });
    expect(ok.path).toEqual([leaf.subject, root.cert.subject]);
    // Not trusted: another root.
    expect(await verifyCertificatePath(x5c, new Date(), { anchors: [other.cert] })).toMatchObject({
      ok: false,
      chain: false,
      problem: expect.stringMatching(/trusted/),
    });
    // Signed after the certificate expired.
    expect(await verifyCertificatePath(x5c, new Date(now + 2 * 3600_000), { anchors: [root.cert] })).toMatchObject({ ok: false, chain: true, validity: false });
    // Revoked before the signing time.
    expect(
      await verifyCertificatePath(x5c, new Date(), {
        anchors: [root.cert],
        revokedAt: async (c) => (c.serialNumber === leaf.serialNumber ? new Date(now - 1000) : null),
      }),
    ).toMatchObject({ ok: false, revocation: false, problem: expect.stringMatching(/revoked/) });
    // Issued by a certificate that is not a CA.
    const notCa = await ca('Not a CA', false);
    const leaf2 = await leafFor(notCa, k.publicKey, { from: new Date(now - 60_000), to: new Date(now + 3600_000) });
    expect((await verifyCertificatePath([b64(leaf2), b64(notCa.cert)], new Date(), { anchors: [root.cert] })).ok).toBe(false);
    // Garbage never throws.
    expect((await verifyCertificatePath(['bm90IGEgY2VydA=='], new Date(), { anchors: [root.cert] })).ok).toBe(false);

    const jws = await signDetached(report, k.privateKey, k.kid, { typ: 'hoichan-consult-report+json', iat: Math.floor(now / 1000), x5c });
    const dir = mkdtempSync(path.join(os.tmpdir(), 'hoichan-verify-'));
    try {
      const f = (name: string, content: string) => {
        writeFileSync(path.join(dir, name), content);
        return path.join(dir, name);
      };
      const sig = f('report.jws', `${jws}\n`);
      const reportFile = f('report.json', JSON.stringify(report, null, 2));
      const out: string[] = [];
      expect(await runVerifyCli([reportFile, sig, f('root.pem', root.cert.toString('pem'))], (s) => out.push(s))).toBe(0);
      expect(JSON.parse(out[0] ?? '{}')).toMatchObject({ valid: true, kid: k.kid, signer: 'PGS.TS. Trần Thị Bình' });
      expect(await runVerifyCli([reportFile, sig, f('other.pem', other.cert.toString('pem'))], (s) => out.push(s))).toBe(1);
      expect(
        await runVerifyCli([f('tampered.json', JSON.stringify({ ...report, status: 'amended' })), sig, f('root2.pem', root.cert.toString('pem'))], (s) =>
          out.push(s),
        ),
      ).toBe(1);
      // The JWK path still works (also for reports signed before certificates).
      const jwkFile = f('key.json', JSON.stringify({ ...k.jwk, kid: k.kid }));
      expect(await runVerifyCli([reportFile, sig, jwkFile], (s) => out.push(s))).toBe(0);
      expect(await runVerifyCli([reportFile, f('old.jws', legacySign(report, k.privateKey, k.kid)), jwkFile], (s) => out.push(s))).toBe(0);
      expect(await runVerifyCli([sig], (s) => out.push(s))).toBe(2);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
    // The certificate key is the JWS key.
    expect(createPublicKey({ key: Buffer.from(leaf.publicKey.rawData), format: 'der', type: 'spki' }).equals(k.publicKey)).toBe(true);
  });
});
