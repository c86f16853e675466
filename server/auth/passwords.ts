import { randomBytes, scrypt as scryptCb, timingSafeEqual, type ScryptOptions } from 'node:crypto';
import { availableParallelism } from 'node:os';
import { ServiceUnavailableError } from '../platform/errors';
import { ConcurrencyGate, GateFullError } from '../platform/concurrency-gate';

/**
 * Each scrypt holds a libuv thread (4 by default, shared with file and other crypto work) and 32 MiB.
 * A burst of sign-ins queues here, on at most cores − 1 threads, instead of taking the whole pool;
 * past 200 waiting, a sign-in is answered 503 "try again" at once.
 */
const hashing = new ConcurrencyGate(Math.max(1, Math.min(3, availableParallelism() - 1)), 200);

const scrypt = async (password: string, salt: Buffer, keylen: number, opts: ScryptOptions): Promise<Buffer> => {
  try {
    return await hashing.run(
      () => new Promise<Buffer>((resolve, reject) => scryptCb(password, salt, keylen, opts, (err, key) => (err ? reject(err) : resolve(key)))),
    );
  } catch (err) {
    if (err instanceof GateFullError) throw new ServiceUnavailableError('Too many sign-ins at once. Try again in a few seconds.');
    throw err;
  }
};

// OWASP: scrypt with N=2^17, r=8, p=1 (128 MiB); 2^15 keeps login fast on a 2-core clinic server
// while staying above the 2^14 minimum. Parameters are stored with each hash so they can be raised.
const N = 2 ** 15;
const R = 8;
const P = 1;
const KEYLEN = 32;

export async function hashPassword(password: string): Promise<string> {
  const salt = randomBytes(16);
  const key = await scrypt(password.normalize('NFKC'), salt, KEYLEN, { N, r: R, p: P, maxmem: 128 * N * R * 2 });
  return `scrypt$${N}$${R}$${P}$${salt.toString('base64url')}$${key.toString('base64url')}`;
}

export async function verifyPassword(password: string, stored: string): Promise<boolean> {
  const [scheme, n, r, p, salt, hash] = stored.split('$');
  if (scheme !== 'scrypt' || !n || !r || !p || !salt || !hash) return false;
  const expected = Buffer.from(hash, 'base64url');
  const key = await scrypt(password.normalize('NFKC'), Buffer.from(salt, 'base64url'), expected.length, {
    N: Number(n),
    r: Number(r),
    p: Number(p),
    maxmem: 128 * Number(n) * Number(r) * 2,
  });
  return key.length === expected.length && timingSafeEqual(key, expected);
}

/** A hash of a random password, verified against when the account does not exist, so timing does not reveal which emails exist. */
export const DUMMY_PASSWORD_HASH = hashPassword(randomBytes(12).toString('hex'));
