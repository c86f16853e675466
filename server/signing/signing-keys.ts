/**
 * Each clinician's ES256 key pair: created at first use (or onboarding via `ensureKey`), private key
 * encrypted at rest, public key published as a JWK whose kid is its RFC 7638 thumbprint.
 */
import { createPrivateKey, generateKeyPairSync, type KeyObject } from 'node:crypto';
import type { Connection, Model } from 'mongoose';
import type { PublicJwk } from '../../contracts/consult-api';
import { signingKeyModel, type SigningKey } from '../../models/signing-key';
import { decryptSecretBytes, encryptSecretBytes } from './key-encryption';
import { jwkThumbprint, signDetached, type EcPublicJwk } from './jws';

export function toPublicJwk(key: Pick<SigningKey, '_id' | 'publicJwk'>): PublicJwk {
  return { kty: 'EC', crv: 'P-256', x: key.publicJwk.x, y: key.publicJwk.y, kid: key._id, alg: 'ES256', use: 'sig' };
}

export class SigningKeys {
  readonly #keys: Model<SigningKey>;
  readonly #creating = new Map<string, Promise<SigningKey>>();

  constructor(
    conn: Connection,
    private readonly encryptionSecret: string,
  ) {
    this.#keys = signingKeyModel(conn);
  }

  /** The user's active key, created when they have none. */
  async ensureKey(userId: string): Promise<SigningKey> {
    const existing = await this.#keys.findOne({ userId, active: true }).sort({ createdAt: -1 }).lean();
    if (existing) return existing;
    // one creation per user at a time in this process
    let pending = this.#creating.get(userId);
    if (!pending) {
      pending = this.#create(userId).finally(() => this.#creating.delete(userId));
      this.#creating.set(userId, pending);
    }
    return pending;
  }

  async #create(userId: string): Promise<SigningKey> {
    const { publicKey, privateKey } = generateKeyPairSync('ec', { namedCurve: 'P-256' });
    const jwk = publicKey.export({ format: 'jwk' }) as { x?: string; y?: string };
    if (!jwk.x || !jwk.y) throw new Error('signing: could not export the public key');
    const publicJwk: EcPublicJwk = { kty: 'EC', crv: 'P-256', x: jwk.x, y: jwk.y };
    const kid = jwkThumbprint(publicJwk);
    const der = privateKey.export({ format: 'der', type: 'pkcs8' });
    const doc = { _id: kid, userId, alg: 'ES256' as const, publicJwk, encryptedPrivateKey: encryptSecretBytes(der, this.encryptionSecret, kid), active: true, retiredAt: null };
    await this.#keys.create(doc);
    const stored = await this.#keys.findById(kid).lean();
    if (!stored) throw new Error('signing: key vanished after creation');
    return stored;
  }

  async publicJwk(kid: string): Promise<{ jwk: PublicJwk; userId: string } | null> {
    const key = await this.#keys.findById(kid).lean();
    return key ? { jwk: toPublicJwk(key), userId: key.userId } : null;
  }

  async listPublic(userId: string): Promise<PublicJwk[]> {
    const keys = await this.#keys.find({ userId }).sort({ createdAt: 1 }).lean();
    return keys.map(toPublicJwk);
  }

  #privateKey(key: SigningKey): KeyObject {
    const der = decryptSecretBytes(key.encryptedPrivateKey, this.encryptionSecret, key._id);
    return createPrivateKey({ key: der, format: 'der', type: 'pkcs8' });
  }

  /** Signs the canonical JSON of `document` with the user's own key. */
  async sign(userId: string, document: unknown, typ = 'hoichan-consult-report+json'): Promise<{ jws: string; kid: string; publicJwk: PublicJwk }> {
    const key = await this.ensureKey(userId);
    const jws = signDetached(document, this.#privateKey(key), key._id, { typ, iat: Math.floor(Date.now() / 1000) });
    return { jws, kid: key._id, publicJwk: toPublicJwk(key) };
  }
}
