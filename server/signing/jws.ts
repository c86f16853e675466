/**
 * Detached JWS with ES256 over unencoded payloads (RFC 7515 appendix F + RFC 7797 `b64: false`):
 * the compact form is `<protected header>..<signature>`, and the signing input is
 * `ASCII(BASE64URL(header)) || '.' || payload bytes`, where the payload is the canonical JSON of the document.
 */
import { createHash, createPublicKey, sign, verify, type KeyObject } from 'node:crypto';
import { canonicalJson } from '../integrity/canonical-json';

export interface EcPublicJwk {
  kty: 'EC';
  crv: 'P-256';
  x: string;
  y: string;
}

export interface JwsHeader {
  alg: 'ES256';
  kid: string;
  b64: false;
  crit: ['b64'];
  typ?: string;
  /** When it was signed (seconds since the epoch; informative, covered by the signature). */
  iat?: number;
}

/** RFC 7638 thumbprint: SHA-256 over the required members in lexicographic order. */
export function jwkThumbprint(jwk: EcPublicJwk): string {
  const json = JSON.stringify({ crv: jwk.crv, kty: jwk.kty, x: jwk.x, y: jwk.y });
  return createHash('sha256').update(json).digest('base64url');
}

function signingInput(encodedHeader: string, payload: string): Buffer {
  return Buffer.concat([Buffer.from(`${encodedHeader}.`, 'ascii'), Buffer.from(payload, 'utf8')]);
}

/** Signs the canonical JSON of `document`; returns the detached compact JWS. */
export function signDetached(document: unknown, privateKey: KeyObject, kid: string, extra: { typ?: string; iat?: number } = {}): string {
  const header: JwsHeader = { alg: 'ES256', kid, b64: false, crit: ['b64'], ...extra };
  const encodedHeader = Buffer.from(JSON.stringify(header), 'utf8').toString('base64url');
  const signature = sign('sha256', signingInput(encodedHeader, canonicalJson(document)), { key: privateKey, dsaEncoding: 'ieee-p1363' });
  return `${encodedHeader}..${signature.toString('base64url')}`;
}

export type DetachedVerification = { valid: true; header: JwsHeader } | { valid: false; problem: string; header?: JwsHeader };

function parseHeader(encoded: string): JwsHeader | null {
  try {
    const h = JSON.parse(Buffer.from(encoded, 'base64url').toString('utf8')) as Partial<JwsHeader>;
    if (h && typeof h === 'object' && typeof h.kid === 'string') return h as JwsHeader;
  } catch {
    /* fallthrough */
  }
  return null;
}

/** Verifies a detached JWS against the canonical JSON of `document` and a public JWK. Never throws. */
export function verifyDetached(document: unknown, jws: string, publicJwk: EcPublicJwk): DetachedVerification {
  const parts = jws.split('.');
  if (parts.length !== 3 || parts[1] !== '' || !parts[0] || !parts[2]) return { valid: false, problem: 'not a detached compact JWS (<header>..<signature>)' };
  const header = parseHeader(parts[0]);
  if (!header) return { valid: false, problem: 'unreadable protected header' };
  if (header.alg !== 'ES256') return { valid: false, problem: `unsupported alg ${String(header.alg)}`, header };
  if (header.b64 !== false || !Array.isArray(header.crit) || !header.crit.includes('b64')) return { valid: false, problem: 'header must carry b64:false and crit ["b64"]', header };
  if (publicJwk.kty !== 'EC' || publicJwk.crv !== 'P-256') return { valid: false, problem: 'public key is not an EC P-256 JWK', header };
  if (header.kid !== jwkThumbprint(publicJwk)) return { valid: false, problem: 'signature was made with another key (kid does not match the public key)', header };
  let payload: string;
  try {
    payload = canonicalJson(document);
  } catch (err) {
    return { valid: false, problem: `document cannot be canonicalized: ${(err as Error).message}`, header };
  }
  try {
    const key = createPublicKey({ key: { kty: 'EC', crv: 'P-256', x: publicJwk.x, y: publicJwk.y }, format: 'jwk' });
    const sig = Buffer.from(parts[2], 'base64url');
    const ok = verify('sha256', signingInput(parts[0], payload), { key, dsaEncoding: 'ieee-p1363' }, sig);
    return ok ? { valid: true, header } : { valid: false, problem: 'signature does not match the document (altered after signing, or another signer)', header };
  } catch (err) {
    return { valid: false, problem: `verification failed: ${(err as Error).message}`, header };
  }
}
