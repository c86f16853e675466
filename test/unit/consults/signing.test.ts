import { generateKeyPairSync, randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { decryptSecretBytes, encryptSecretBytes } from '../../../server/signing/key-encryption';
import { jwkThumbprint, signDetached, verifyDetached, type EcPublicJwk } from '../../../server/signing/jws';
import { runVerifyCli } from '../../../server/signing/verify-cli';

function keyPair() {
  const { publicKey, privateKey } = generateKeyPairSync('ec', { namedCurve: 'P-256' });
  const j = publicKey.export({ format: 'jwk' }) as { x: string; y: string };
  const jwk: EcPublicJwk = { kty: 'EC', crv: 'P-256', x: j.x, y: j.y };
  return { jwk, privateKey, kid: jwkThumbprint(jwk) };
}

const report = { resourceType: 'DiagnosticReport', id: 'c1-v1', status: 'final', conclusion: 'Lao phổi nghi ngờ', subject: { reference: 'Patient/p1' }, n: 1.5 };

describe('detached JWS (ES256, b64:false)', () => {
  const k = keyPair();
  const jws = signDetached(report, k.privateKey, k.kid, { typ: 'hoichan-consult-report+json' });

  test('compact detached form with the RFC 7797 header', () => {
    const [h, p, s] = jws.split('.');
    expect(p).toBe('');
    expect(Buffer.from(s ?? '', 'base64url')).toHaveLength(64); // r||s, ieee-p1363
    expect(JSON.parse(Buffer.from(h ?? '', 'base64url').toString())).toEqual({ alg: 'ES256', kid: k.kid, b64: false, crit: ['b64'], typ: 'hoichan-consult-report+json' });
  });

  test('verifies regardless of key order (canonical JSON)', () => {
    const reordered = { n: 1.5, subject: { reference: 'Patient/p1' }, conclusion: 'Lao phổi nghi ngờ', status: 'final', id: 'c1-v1', resourceType: 'DiagnosticReport' };
    expect(verifyDetached(reordered, jws, k.jwk).valid).toBe(true);
  });

  test('a changed report fails', () => {
    const r = verifyDetached({ ...report, conclusion: 'Bình thường' }, jws, k.jwk);
    expect(r).toMatchObject({ valid: false, problem: expect.stringMatching(/does not match/) });
  });

  test("another signer's key fails (kid mismatch), and a forged kid fails on the signature", () => {
    const other = keyPair();
    expect(verifyDetached(report, jws, other.jwk)).toMatchObject({ valid: false, problem: expect.stringMatching(/another key/) });
    const forged = signDetached(report, other.privateKey, k.kid);
    expect(verifyDetached(report, forged, k.jwk).valid).toBe(false);
  });

  test('malformed signatures never throw', () => {
    for (const bad of ['', 'a.b.c', 'x..y', `${jws}x`, jws.replace('..', '.e30.'), `${Buffer.from('{"alg":"none","kid":"k"}').toString('base64url')}..AA`]) {
      expect(verifyDetached(report, bad, k.jwk).valid).toBe(false);
    }
  });

  test('private key encryption: round trip, wrong secret and wrong AAD fail', () => {
    const plain = randomBytes(100);
    const blob = encryptSecretBytes(plain, 'secret-one-that-is-long-enough-000000', 'kid-1');
    expect(decryptSecretBytes(blob, 'secret-one-that-is-long-enough-000000', 'kid-1').equals(plain)).toBe(true);
    expect(() => decryptSecretBytes(blob, 'another-secret-that-is-long-enough-0000', 'kid-1')).toThrow();
    expect(() => decryptSecretBytes(blob, 'secret-one-that-is-long-enough-000000', 'kid-2')).toThrow();
  });

  test('verify CLI: exit 0 when valid, 1 when tampered, 2 on usage', () => {
    const dir = mkdtempSync(path.join(os.tmpdir(), 'hoichan-verify-'));
    try {
      const f = (name: string, content: string) => {
        writeFileSync(path.join(dir, name), content);
        return path.join(dir, name);
      };
      const sig = f('report.jws', `${jws}\n`);
      const jwkFile = f('key.json', JSON.stringify({ ...k.jwk, kid: k.kid }));
      const out: string[] = [];
      expect(runVerifyCli([f('report.json', JSON.stringify(report, null, 2)), sig, jwkFile], (s) => out.push(s))).toBe(0);
      expect(JSON.parse(out[0] ?? '{}')).toMatchObject({ valid: true, kid: k.kid, alg: 'ES256' });
      expect(runVerifyCli([f('tampered.json', JSON.stringify({ ...report, status: 'amended' })), sig, jwkFile], (s) => out.push(s))).toBe(1);
      expect(JSON.parse(out[1] ?? '{}')).toMatchObject({ valid: false });
      expect(runVerifyCli([sig], (s) => out.push(s))).toBe(2);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
