/**
 * Each clinician's ES256 key pair, certified by the hospital CA: created at first use (or onboarding
 * via `ensureKey`), private key encrypted at rest, public key published as a JWK whose kid is its
 * RFC 7638 thumbprint and certified in an X.509 certificate the hospital CA issues
 * (server/signing/hospital-ca.ts). A signature carries the certificate chain in `x5c`.
 */
import { createPrivateKey, createPublicKey, generateKeyPairSync, type KeyObject } from 'node:crypto';
import type { Connection, Model } from 'mongoose';
import type { PublicJwk } from '../../contracts/consult-api';
import { facilityModel, type Facility } from '../../models/facility';
import { signingKeyModel, type SigningKey } from '../../models/signing-key';
import { userModel, type User } from '../../models/user';
import { HospitalCa, type CertificateSummary, type SigningCaSettings } from './hospital-ca';
import { decryptSecretBytes, encryptSecretBytes } from './key-encryption';
import { jwkThumbprint, readHeader, signDetached, verifyDetached, type EcPublicJwk } from './jws';

export function toPublicJwk(key: Pick<SigningKey, '_id' | 'publicJwk'>): PublicJwk {
  return { kty: 'EC', crv: 'P-256', x: key.publicJwk.x, y: key.publicJwk.y, kid: key._id, alg: 'ES256', use: 'sig' };
}

/** What a verification found, step by step (null: the step does not apply, e.g. no certificate on an old signature). */
export interface SignatureCheck {
  valid: boolean;
  problem?: string;
  kid: string | null;
  /** Signed with a bare key, before reports carried certificates. */
  legacy: boolean;
  /** When it was signed, from the signed header (`iat`). */
  signedAt: string | null;
  signature: boolean;
  chain: boolean | null;
  validity: boolean | null;
  revocation: boolean | null;
  /** The signer as the certificate names them. */
  certificate?: CertificateSummary;
  /** Subjects from the signer's certificate to the root. */
  path?: string[];
  /** The user the key or certificate belongs to. */
  keyUserId: string | null;
}

export class SigningKeys {
  readonly #keys: Model<SigningKey>;
  readonly #users: Model<User>;
  readonly #facilities: Model<Facility>;
  readonly #creating = new Map<string, Promise<SigningKey>>();
  #ca: Promise<HospitalCa> | null = null;

  constructor(
    private readonly conn: Connection,
    private readonly encryptionSecret: string,
    private readonly caSettings: SigningCaSettings,
  ) {
    this.#keys = signingKeyModel(conn);
    this.#users = userModel(conn);
    this.#facilities = facilityModel(conn);
  }

  /** The hospital CA (configured, or the demo CA in the database), loaded once. */
  ca(): Promise<HospitalCa> {
    if (!this.#ca) {
      this.#ca = HospitalCa.load(this.conn, this.encryptionSecret, this.caSettings);
      this.#ca.catch(() => (this.#ca = null));
    }
    return this.#ca;
  }

  /** The user's active key with its certificate, created (and certified) when they have none. */
  async ensureKey(userId: string): Promise<SigningKey> {
    const existing = await this.#keys.findOne({ userId, active: true }).sort({ createdAt: -1 }).lean();
    if (existing?.certificate) return existing;
    // one creation per user at a time in this process
    let pending = this.#creating.get(userId);
    if (!pending) {
      pending = (existing ? this.#certify(existing) : this.#create(userId)).finally(() => this.#creating.delete(userId));
      this.#creating.set(userId, pending);
    }
    return pending;
  }

  async #create(userId: string): Promise<SigningKey> {
    const { publicKey, privateKey } = generateKeyPairSync('ec', { namedCurve: 'P-256' });
    const jwk = publicKey.export({ format: 'jwk' }) as { x?: string; y?: string };
    if (!jwk.x || !jwk.y) throw new Error('signing: could not export the public key');
    const publicJwk: EcPublicJwk = { kty: 'EC', crv: 'P-256', x: jwk.x, y: jwk.y };
    const kid = await jwkThumbprint(publicJwk);
    const der = privateKey.export({ format: 'der', type: 'pkcs8' });
    const doc = {
      _id: kid,
      userId,
      alg: 'ES256' as const,
      publicJwk,
      encryptedPrivateKey: encryptSecretBytes(der, this.encryptionSecret, kid),
      active: true,
      retiredAt: null,
    };
    await this.#keys.create(doc);
    const stored = await this.#keys.findById(kid).lean();
    if (!stored) throw new Error('signing: key vanished after creation');
    return this.#certify(stored);
  }

  /** The hospital CA certifies the key (keys made before certificates get theirs at their next signature). */
  async #certify(key: SigningKey): Promise<SigningKey> {
    const [user, ca] = await Promise.all([this.#users.findById(key.userId, { displayName: 1, facilityId: 1 }).lean(), this.ca()]);
    const facility = user ? await this.#facilities.findById(user.facilityId, { name: 1 }).lean() : null;
    const publicKey = createPublicKey({ key: { kty: 'EC', crv: 'P-256', x: key.publicJwk.x, y: key.publicJwk.y }, format: 'jwk' });
    const { certificate, serialNumber } = await ca.issue(
      { userId: key.userId, displayName: user?.displayName ?? key.userId, facilityName: facility?.name ?? user?.facilityId ?? 'unknown' },
      publicKey,
    );
    await this.#keys.updateOne({ _id: key._id, certificate: { $exists: false } }, { $set: { certificate, certificateSerial: serialNumber } });
    const stored = await this.#keys.findById(key._id).lean();
    if (!stored) throw new Error('signing: key vanished after certification');
    return stored;
  }

  async publicJwk(kid: string): Promise<{ jwk: PublicJwk; userId: string; certificate?: string } | null> {
    const key = await this.#keys.findById(kid).lean();
    return key ? { jwk: toPublicJwk(key), userId: key.userId, ...(key.certificate ? { certificate: key.certificate } : {}) } : null;
  }

  async listPublic(userId: string): Promise<PublicJwk[]> {
    const keys = await this.#keys.find({ userId }).sort({ createdAt: 1 }).lean();
    return keys.map(toPublicJwk);
  }

  #privateKey(key: SigningKey): KeyObject {
    const der = decryptSecretBytes(key.encryptedPrivateKey, this.encryptionSecret, key._id);
    return createPrivateKey({ key: der, format: 'der', type: 'pkcs8' });
  }

  /** Signs the canonical JSON of `document` with the user's own key; the JWS carries the certificate chain (`x5c`). */
  async sign(userId: string, document: unknown, typ = 'hoichan-consult-report+json'): Promise<{ jws: string; kid: string; publicJwk: PublicJwk }> {
    const key = await this.ensureKey(userId);
    const ca = await this.ca();
    const jws = await signDetached(document, this.#privateKey(key), key._id, {
      typ,
      iat: Math.floor(Date.now() / 1000),
      ...(key.certificate ? { x5c: ca.x5c(key.certificate) } : {}),
    });
    return { jws, kid: key._id, publicJwk: toPublicJwk(key) };
  }

  /**
   * Revokes a key's certificate (the hospital CA's revocation list) and retires the key, so the
   * user's next signature gets a new key and certificate. Signatures made before stay valid.
   */
  async revoke(kid: string, reason: string, at = new Date()): Promise<void> {
    const key = await this.#keys.findById(kid).lean();
    if (!key) throw new Error(`signing: no key ${kid}`);
    if (key.certificateSerial) await (await this.ca()).revoke(key.certificateSerial, kid, key.userId, reason, at);
    await this.#keys.updateOne({ _id: kid }, { $set: { active: false, retiredAt: at } });
  }

  /**
   * Verifies a detached JWS over `document`. With `x5c`: the chain to a trusted hospital CA, the
   * certificates valid at the signing time, none revoked at that time, and the signature made with
   * the certified key. Without (reports signed before certificates): the signature with the stored key.
   * Never throws.
   */
  async verify(document: unknown, jws: string, fallbackSignedAt: Date): Promise<SignatureCheck> {
    const header = readHeader(jws);
    const kid = header?.kid ?? null;
    const signedAt = header?.iat !== undefined ? new Date(header.iat * 1000) : fallbackSignedAt;
    const base = { kid, signedAt: signedAt.toISOString(), keyUserId: null as string | null };
    if (!header)
      return { ...base, valid: false, legacy: false, signature: false, chain: null, validity: null, revocation: null, problem: 'unreadable protected header' };
    if (Array.isArray(header.x5c) && header.x5c.length > 0) {
      const chain = await (await this.ca()).verifyChain(header.x5c, signedAt);
      const sig = chain.leafKey
        ? await verifyDetached(document, jws, chain.leafKey)
        : ({ valid: false, problem: chain.problem ?? 'no certificate key' } as const);
      const out: SignatureCheck = {
        ...base,
        keyUserId: chain.leaf?.userId ?? null,
        legacy: false,
        signature: sig.valid,
        chain: chain.chain,
        validity: chain.validity,
        revocation: chain.revocation,
        ...(chain.leaf ? { certificate: chain.leaf } : {}),
        path: chain.path,
        valid: sig.valid && chain.ok,
      };
      if (!sig.valid) out.problem = sig.problem;
      else if (!chain.ok) out.problem = chain.problem;
      return out;
    }
    const key = kid ? await this.#keys.findById(kid).lean() : null;
    if (!key)
      return { ...base, valid: false, legacy: true, signature: false, chain: null, validity: null, revocation: null, problem: 'the signing key is unknown' };
    const sig = await verifyDetached(document, jws, key.publicJwk);
    return {
      ...base,
      keyUserId: key.userId,
      legacy: true,
      signature: sig.valid,
      chain: null,
      validity: null,
      revocation: null,
      valid: sig.valid,
      ...(sig.valid ? {} : { problem: sig.problem }),
    };
  }
}
