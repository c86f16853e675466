/**
 * Detached JWS with ES256 over unencoded payloads (RFC 7515 appendix F + RFC 7797 `b64: false`),
 * made and checked by `jose`: the compact form is `<protected header>..<signature>`, the payload
 * the RFC 8785 canonical JSON of the document (server/integrity/canonical-json.ts). Reports signed
 * since certificates carry the signer's X.509 chain in `x5c`; older ones only a `kid` (the RFC 7638
 * thumbprint of the signer's key) and still verify with that key.
 */
import type { KeyObject } from 'node:crypto';
import { calculateJwkThumbprint, FlattenedSign, flattenedVerify, importJWK } from 'jose';
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
  /** When it was signed (seconds since the epoch; covered by the signature). */
  iat?: number;
  /** The signer's certificate chain (base64 DER, signer first), RFC 7515 §4.1.6. */
  x5c?: string[];
}

/** RFC 7638 thumbprint (SHA-256) of an EC public JWK. */
export async function jwkThumbprint(jwk: EcPublicJwk): Promise<string> {
  return calculateJwkThumbprint({ kty: jwk.kty, crv: jwk.crv, x: jwk.x, y: jwk.y }, 'sha256');
}

/** Signs the canonical JSON of `document`; returns the detached compact JWS. */
export async function signDetached(
  document: unknown,
  privateKey: KeyObject,
  kid: string,
  extra: { typ?: string; iat?: number; x5c?: string[] } = {},
): Promise<string> {
  const header: JwsHeader = {
    alg: 'ES256',
    kid,
    b64: false,
    crit: ['b64'],
    ...(extra.typ ? { typ: extra.typ } : {}),
    ...(extra.iat !== undefined ? { iat: extra.iat } : {}),
    ...(extra.x5c ? { x5c: extra.x5c } : {}),
  };
  const jws = await new FlattenedSign(new TextEncoder().encode(canonicalJson(document))).setProtectedHeader({ ...header }).sign(privateKey);
  return `${jws.protected}..${jws.signature}`;
}

export type DetachedVerification = { valid: true; header: JwsHeader } | { valid: false; problem: string; header?: JwsHeader };

/** The protected header of a detached compact JWS, or null when it is not one. */
export function readHeader(jws: string): JwsHeader | null {
  const parts = jws.split('.');
  if (parts.length !== 3 || parts[1] !== '' || !parts[0] || !parts[2]) return null;
  try {
    const h = JSON.parse(Buffer.from(parts[0], 'base64url').toString('utf8')) as Partial<JwsHeader>;
    // eslint-disable-next-line @typescript-eslint/no-unnecessary-condition -- runtime input: the header is decoded from the presented JWS
    if (h && typeof h === 'object' && typeof h.kid === 'string') return h as JwsHeader;
  } catch {
    /* fallthrough */
  }
  return null;
}

/**
 * Verifies a detached JWS against the canonical JSON of `document` with the signer's public key
 * (a JWK, or the key from their certificate). The `kid` must be that key's thumbprint. Never throws.
 */
export async function verifyDetached(document: unknown, jws: string, publicKey: EcPublicJwk | KeyObject): Promise<DetachedVerification> {
  const parts = jws.split('.');
  if (parts.length !== 3 || parts[1] !== '' || !parts[0] || !parts[2]) return { valid: false, problem: 'not a detached compact JWS (<header>..<signature>)' };
  const header = readHeader(jws);
  if (!header) return { valid: false, problem: 'unreadable protected header' };
  // eslint-disable-next-line @typescript-eslint/no-unnecessary-condition -- runtime input: the header is decoded from the presented JWS
  if (header.alg !== 'ES256') return { valid: false, problem: `unsupported alg ${String(header.alg)}`, header };
  // eslint-disable-next-line @typescript-eslint/no-unnecessary-boolean-literal-compare, @typescript-eslint/no-unnecessary-condition -- runtime input: b64 must be exactly false, not merely falsy; runtime input: the header is decoded from the presented JWS
  if (header.b64 !== false || !Array.isArray(header.crit) || !header.crit.includes('b64'))
    return { valid: false, problem: 'header must carry b64:false and crit ["b64"]', header };
  let jwk: EcPublicJwk;
  let key: KeyObject | Awaited<ReturnType<typeof importJWK>>;
  try {
    if ('kty' in publicKey && !('type' in publicKey)) {
      jwk = publicKey;
      // eslint-disable-next-line @typescript-eslint/no-unnecessary-condition -- runtime input: the header is decoded from the presented JWS
      if (jwk.kty !== 'EC' || jwk.crv !== 'P-256') return { valid: false, problem: 'public key is not an EC P-256 JWK', header };
      key = await importJWK({ kty: 'EC', crv: 'P-256', x: jwk.x, y: jwk.y }, 'ES256');
    } else {
      const exported = (publicKey as KeyObject).export({ format: 'jwk' }) as { kty?: string; crv?: string; x?: string; y?: string };
      if (exported.kty !== 'EC' || exported.crv !== 'P-256' || !exported.x || !exported.y)
        return { valid: false, problem: 'public key is not an EC P-256 key', header };
      jwk = { kty: 'EC', crv: 'P-256', x: exported.x, y: exported.y };
      key = publicKey as KeyObject;
    }
  } catch (err) {
    return { valid: false, problem: `public key cannot be read: ${(err as Error).message}`, header };
  }
  if (header.kid !== (await jwkThumbprint(jwk)))
    return { valid: false, problem: 'signature was made with another key (kid does not match the public key)', header };
  let payload: string;
  try {
    payload = canonicalJson(document);
  } catch (err) {
    return { valid: false, problem: `document cannot be canonicalized: ${(err as Error).message}`, header };
  }
  try {
    await flattenedVerify({ protected: parts[0], payload: new TextEncoder().encode(payload), signature: parts[2] }, key, { algorithms: ['ES256'] });
    return { valid: true, header };
  } catch (err) {
    const code = (err as { code?: string }).code;
    return code === 'ERR_JWS_SIGNATURE_VERIFICATION_FAILED'
      ? { valid: false, problem: 'signature does not match the document (altered after signing, or another signer)', header }
      : { valid: false, problem: `verification failed: ${(err as Error).message}`, header };
  }
}
