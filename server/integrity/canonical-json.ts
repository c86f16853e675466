import { createHash } from 'node:crypto';
import canonicalize from 'canonicalize';

/**
 * Canonical JSON by RFC 8785 (JSON Canonicalization Scheme), from the `canonicalize` package:
 * object members sorted by UTF-16 code units, no insignificant whitespace, numbers in ECMAScript
 * shortest form, `undefined` members dropped (and `null` in arrays), `toJSON` honoured (a Date is
 * its ISO string). Used wherever a hash or signature must not depend on key order: the audit
 * chain, signed reports. Byte-for-byte what the hand-written version produced before, so old
 * hashes and signatures still verify (test/unit/consults/signing.test.ts checks it).
 */
export function canonicalJson(value: unknown): string {
  let out: string | undefined;
  try {
    out = canonicalize(value);
  } catch (err) {
    throw new TypeError(`canonicalJson: ${(err as Error).message}`, { cause: err });
  }
  if (out === undefined) throw new TypeError(`canonicalJson: unsupported ${typeof value}`);
  return out;
}

export function sha256Hex(data: string | Uint8Array): string {
  return createHash('sha256').update(data).digest('hex');
}
