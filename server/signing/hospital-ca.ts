/**
 * The hospital's certification authority for report signatures (X.509, @peculiar/x509).
 *
 * - A real CA: `HOICHAN_SIGNING_CA_CERT` (PEM file: the issuing CA's certificate first, then its
 *   chain up to the root) and `HOICHAN_SIGNING_CA_KEY` (PEM PKCS#8 ECDSA P-256 private key of the
 *   issuing CA). `HOICHAN_SIGNING_TRUST` (PEM, optional) adds trusted roots; `HOICHAN_SIGNING_CRL`
 *   (comma-separated PEM/DER files, optional) the CA's published revocation lists.
 * - Otherwise (the demo, tests): a self-signed "demo" CA created once and kept in the database, its
 *   private key encrypted with the key-encryption secret.
 *
 * It issues each specialist's certificate (digitalSignature + nonRepudiation, document signing),
 * keeps its own revocation list, and verifies a presented chain (`x5c`): each link's signature,
 * every certificate valid at the signing time, the path ending at a trusted root, nothing revoked.
 */
import { createPublicKey, webcrypto, type KeyObject } from 'node:crypto';
import { readFileSync } from 'node:fs';
import * as x509 from '@peculiar/x509';
import type { Connection, Model } from 'mongoose';
import { signingCaModel, signingRevocationModel, type SigningCaDoc, type SigningRevocationDoc } from '../../models/signing-ca';
import type { HoichanConfig } from '../config';
import { decryptSecretBytes, encryptSecretBytes } from './key-encryption';

/** Where the configured CA's files are (HoichanConfig.signing); none: the demo CA. */
export type SigningCaSettings = HoichanConfig['signing'];

// The key types @peculiar/x509 takes: the global WebCrypto ones, whether or not the DOM lib is in (the server build has none).
type CryptoKey = InstanceType<typeof globalThis.CryptoKey>;
interface CryptoKeyPair {
  privateKey: CryptoKey;
  publicKey: CryptoKey;
}

x509.cryptoProvider.set(webcrypto as unknown as Parameters<typeof x509.cryptoProvider.set>[1]);

const EC = { name: 'ECDSA', namedCurve: 'P-256' } as const;
const SIGNING_ALG = { name: 'ECDSA', hash: 'SHA-256' } as const;
/** id-kp-documentSigning (RFC 9336) and emailProtection (what most Vietnamese CA profiles still name). */
const DOCUMENT_SIGNING = '1.3.6.1.5.5.7.3.36';
const EMAIL_PROTECTION = '1.3.6.1.5.5.7.3.4';
const UID_OID = '0.9.2342.19200300.100.1.1';
const DEMO_CA_ID = 'demo';
const CERT_YEARS = 2;

export interface CertificateSubject {
  userId: string;
  displayName: string;
  facilityName: string;
}

export interface CertificateSummary {
  subject: string;
  issuer: string;
  serialNumber: string;
  notBefore: string;
  notAfter: string;
  /** SHA-256 fingerprint of the DER, hex. */
  sha256: string;
  /** The signer's user id from the certificate's UID attribute. */
  userId: string | null;
  /** Common name (the signer's name as certified). */
  commonName: string | null;
  organisation: string | null;
}

export interface ChainCheck {
  /** The whole path checks out: signatures, validity at `at`, a trusted root, nothing revoked. */
  ok: boolean;
  chain: boolean;
  validity: boolean;
  revocation: boolean;
  problem?: string;
  leaf?: CertificateSummary;
  /** Subjects from the signer's certificate to the root. */
  path: string[];
  /** The leaf's public key (to check the JWS with). */
  leafKey?: KeyObject;
}

function b64(buf: ArrayBuffer | Uint8Array): string {
  return Buffer.from(buf instanceof Uint8Array ? buf : new Uint8Array(buf)).toString('base64');
}

function attr(cert: x509.X509Certificate, oidOrName: string): string | null {
  const [value] = cert.subjectName.getField(oidOrName);
  return value ?? null;
}

export async function summarise(cert: x509.X509Certificate): Promise<CertificateSummary> {
  const thumb = await cert.getThumbprint('SHA-256');
  return {
    subject: cert.subject,
    issuer: cert.issuer,
    serialNumber: cert.serialNumber,
    notBefore: cert.notBefore.toISOString(),
    notAfter: cert.notAfter.toISOString(),
    sha256: Buffer.from(thumb).toString('hex'),
    userId: attr(cert, UID_OID) ?? attr(cert, 'UID'),
    commonName: attr(cert, 'CN'),
    organisation: attr(cert, 'O'),
  };
}

export function readPemCertificates(file: string): x509.X509Certificate[] {
  const text = readFileSync(file, 'utf8');
  const blocks = text.match(/-----BEGIN CERTIFICATE-----[\s\S]+?-----END CERTIFICATE-----/g) ?? [];
  if (!blocks.length) throw new Error(`${file}: no PEM certificate in it`);
  return blocks.map((b) => new x509.X509Certificate(b));
}

function readCrls(files: string): x509.X509Crl[] {
  return files
    .split(',')
    .map((f) => f.trim())
    .filter(Boolean)
    .map((f) => {
      const raw = readFileSync(f);
      const text = raw.toString('latin1');
      return new x509.X509Crl(text.includes('-----BEGIN X509 CRL-----') ? text : new Uint8Array(raw));
    });
}

export class HospitalCa {
  readonly #revocations: Model<SigningRevocationDoc>;

  private constructor(
    conn: Connection,
    /** The issuing CA's certificate. */
    readonly issuer: x509.X509Certificate,
    /** The issuing CA's certificate and its chain up to the root (what goes into `x5c` after the leaf). */
    readonly chain: x509.X509Certificate[],
    private readonly key: CryptoKey,
    private readonly anchors: x509.X509Certificate[],
    private readonly crls: x509.X509Crl[],
    /** "demo" (self-signed, generated) or "configured". */
    readonly kind: 'demo' | 'configured',
  ) {
    this.#revocations = signingRevocationModel(conn);
  }

  /** The configured CA, or the demo CA kept in the database (created on first use). */
  static async load(conn: Connection, secret: string, settings: SigningCaSettings): Promise<HospitalCa> {
    const extraTrust = settings.trustFile ? readPemCertificates(settings.trustFile) : [];
    const crls = settings.crlFiles ? readCrls(settings.crlFiles) : [];
    if (settings.caCertFile || settings.caKeyFile) {
      if (!settings.caCertFile || !settings.caKeyFile) throw new Error('HOICHAN_SIGNING_CA_CERT and HOICHAN_SIGNING_CA_KEY must be set together');
      const chain = readPemCertificates(settings.caCertFile);
      const pem = readFileSync(settings.caKeyFile, 'utf8');
      const der = x509.PemConverter.decodeFirst(pem);
      const key = await webcrypto.subtle.importKey('pkcs8', der, EC, false, ['sign']);
      const leaf = chain[0];
      const root = chain[chain.length - 1];
      if (!leaf || !root) throw new Error('HOICHAN_SIGNING_CA_CERT holds no certificate');
      return new HospitalCa(conn, leaf, chain, key as unknown as CryptoKey, [root, ...extraTrust], crls, 'configured');
    }
    const cas: Model<SigningCaDoc> = signingCaModel(conn);
    let doc = await cas.findById(DEMO_CA_ID).lean<SigningCaDoc>();
    if (!doc) {
      const created = await HospitalCa.#createDemo(secret);
      try {
        await cas.create(created);
      } catch (err) {
        if ((err as { code?: number }).code !== 11000) throw err; // another process made it first: use theirs
      }
      doc = await cas.findById(DEMO_CA_ID).lean<SigningCaDoc>();
      if (!doc) throw new Error('signing: the demo CA vanished after creation');
    }
    const cert = new x509.X509Certificate(Buffer.from(doc.certificate, 'base64'));
    const pkcs8 = decryptSecretBytes(doc.encryptedPrivateKey, secret, `hospital-ca:${doc._id}`);
    const key = await webcrypto.subtle.importKey('pkcs8', pkcs8, EC, false, ['sign']);
    return new HospitalCa(conn, cert, [cert], key as unknown as CryptoKey, [cert, ...extraTrust], crls, 'demo');
  }

  static async #createDemo(secret: string): Promise<Omit<SigningCaDoc, 'createdAt'>> {
    const keys = (await webcrypto.subtle.generateKey(EC, true, ['sign', 'verify'])) as unknown as CryptoKeyPair;
    const now = Date.now();
    const cert = await x509.X509CertificateGenerator.createSelfSigned({
      name: [{ CN: ['hoichan demo hospital CA (not a licensed CA)'] }, { O: ['hoichan demo'] }, { C: ['VN'] }],
      keys,
      notBefore: new Date(now - 60_000),
      notAfter: new Date(now + 10 * 365 * 24 * 3600_000),
      signingAlgorithm: SIGNING_ALG,
      extensions: [
        new x509.BasicConstraintsExtension(true, 0, true),
        new x509.KeyUsagesExtension(x509.KeyUsageFlags.keyCertSign | x509.KeyUsageFlags.cRLSign, true),
        await x509.SubjectKeyIdentifierExtension.create(keys.publicKey),
      ],
    });
    const pkcs8 = Buffer.from(await webcrypto.subtle.exportKey('pkcs8', keys.privateKey as unknown as webcrypto.CryptoKey));
    return { _id: DEMO_CA_ID, certificate: b64(cert.rawData), encryptedPrivateKey: encryptSecretBytes(pkcs8, secret, `hospital-ca:${DEMO_CA_ID}`) };
  }

  /** Issues a signing certificate for a specialist's public key. Returns the DER (base64) and serial. */
  async issue(subject: CertificateSubject, publicKey: KeyObject, now = new Date()): Promise<{ certificate: string; serialNumber: string }> {
    const spki = publicKey.export({ format: 'der', type: 'spki' });
    const cryptoKey = (await webcrypto.subtle.importKey('spki', spki, EC, true, ['verify'])) as unknown as CryptoKey;
    const notAfter = new Date(Math.min(now.getTime() + CERT_YEARS * 365 * 24 * 3600_000, this.issuer.notAfter.getTime()));
    const cert = await x509.X509CertificateGenerator.create({
      subject: [{ CN: [subject.displayName] }, { O: [subject.facilityName] }, { [UID_OID]: [subject.userId] }, { C: ['VN'] }],
      issuer: this.issuer.subjectName,
      publicKey: cryptoKey,
      signingKey: this.key,
      notBefore: new Date(now.getTime() - 60_000),
      notAfter,
      signingAlgorithm: SIGNING_ALG,
      extensions: [
        new x509.BasicConstraintsExtension(false, undefined, true),
        new x509.KeyUsagesExtension(x509.KeyUsageFlags.digitalSignature | x509.KeyUsageFlags.nonRepudiation, true),
        new x509.ExtendedKeyUsageExtension([DOCUMENT_SIGNING, EMAIL_PROTECTION], false),
        await x509.AuthorityKeyIdentifierExtension.create(this.issuer, false),
        await x509.SubjectKeyIdentifierExtension.create(cryptoKey),
      ],
    });
    return { certificate: b64(cert.rawData), serialNumber: cert.serialNumber };
  }

  /** `x5c` for a certificate this CA issued: the leaf, then the CA chain (base64 DER, RFC 7515 §4.1.6). */
  x5c(leafBase64: string): string[] {
    return [leafBase64, ...this.chain.map((c) => b64(c.rawData))];
  }

  async revoke(serialNumber: string, kid: string, userId: string, reason: string, at = new Date()): Promise<void> {
    await this.#revocations.updateOne({ _id: serialNumber }, { $setOnInsert: { _id: serialNumber, kid, userId, reason, revokedAt: at } }, { upsert: true });
  }

  /** Revoked before (or at) `at`? From this CA's own list and the configured CRLs. */
  async revokedAt(cert: x509.X509Certificate, at: Date): Promise<Date | null> {
    const own = await this.#revocations.findById(cert.serialNumber).lean<SigningRevocationDoc>();
    if (own && new Date(own.revokedAt).getTime() <= at.getTime()) return new Date(own.revokedAt);
    for (const crl of this.crls) {
      if (crl.issuer !== cert.issuer) continue;
      const entry = crl.findRevoked(cert);
      if (entry && entry.revocationDate.getTime() <= at.getTime()) return entry.revocationDate;
    }
    return null;
  }

  /** This CA's revocation list as a signed X.509 CRL (PEM), to publish. */
  async crlPem(now = new Date()): Promise<string> {
    const revoked = await this.#revocations.find({}).lean<SigningRevocationDoc[]>();
    const crl = await x509.X509CrlGenerator.create({
      issuer: this.issuer.subjectName,
      thisUpdate: now,
      nextUpdate: new Date(now.getTime() + 7 * 24 * 3600_000),
      entries: revoked.map((r) => ({ serialNumber: r._id, revocationDate: new Date(r.revokedAt), reason: x509.X509CrlReason.unspecified })),
      signingKey: this.key,
      signingAlgorithm: SIGNING_ALG,
    });
    return crl.toString('pem');
  }

  /**
   * Verifies the chain a signature presents (`x5c`, base64 DER, signer first) at the signing time
   * against this hospital's trusted roots, its own revocation list and the configured CRLs.
   */
  async verifyChain(x5c: readonly string[], at: Date): Promise<ChainCheck> {
    return verifyCertificatePath(x5c, at, { anchors: this.anchors, intermediates: this.chain, revokedAt: (c, when) => this.revokedAt(c, when) });
  }
}

/**
 * Verifies a certificate path (`x5c`, base64 DER, signer first) at time `at`: every link signed by
 * the next, a CA at every step above the signer, the path ending at one of `anchors` (byte-identical),
 * each certificate valid at `at`, none revoked at `at` (`revokedAt`). Never throws.
 */
export async function verifyCertificatePath(
  x5c: readonly string[],
  at: Date,
  opts: {
    anchors: readonly x509.X509Certificate[];
    intermediates?: readonly x509.X509Certificate[];
    revokedAt?: (cert: x509.X509Certificate, at: Date) => Promise<Date | null>;
  },
): Promise<ChainCheck> {
  const fail = (problem: string, partial: Partial<ChainCheck> = {}): ChainCheck => ({
    ok: false,
    chain: false,
    validity: false,
    revocation: false,
    path: [],
    problem,
    ...partial,
  });
  let certs: x509.X509Certificate[];
  try {
    certs = x5c.map((c) => new x509.X509Certificate(Buffer.from(c, 'base64')));
  } catch (err) {
    return fail(`the signature's certificate cannot be read (${(err as Error).message})`);
  }
  const leaf = certs[0];
  if (!leaf) return fail('the signature carries no certificate');
  const leafSummary = await summarise(leaf);
  let leafKey: KeyObject;
  try {
    leafKey = createPublicKey({ key: Buffer.from(leaf.publicKey.rawData), format: 'der', type: 'spki' });
  } catch (err) {
    return fail(`the certificate's public key cannot be read (${(err as Error).message})`, { leaf: leafSummary });
  }
  const print = async (c: x509.X509Certificate) => Buffer.from(await c.getThumbprint('SHA-256')).toString('hex');
  const anchorPrints = new Set(await Promise.all(opts.anchors.map(print)));
  const candidates = [...certs.slice(1), ...(opts.intermediates ?? []), ...opts.anchors];
  const path: x509.X509Certificate[] = [leaf];
  let current = leaf;
  let trusted = false;
  for (let depth = 0; depth < 6; depth++) {
    if (anchorPrints.has(await print(current))) {
      trusted = true; // byte-identical to a trusted root (or issuing CA) of this hospital
      break;
    }
    let issuer: x509.X509Certificate | undefined;
    for (const c of candidates) {
      if (c.subject !== current.issuer) continue;
      if (await current.verify({ publicKey: c.publicKey, signatureOnly: true }).catch(() => false)) {
        issuer = c;
        break;
      }
    }
    if (!issuer) break;
    const bc = issuer.getExtension(x509.BasicConstraintsExtension);
    if (!bc?.ca) return fail(`"${issuer.subject}" is not a certification authority`, { leaf: leafSummary, leafKey });
    path.push(issuer);
    current = issuer;
  }
  const subjects = path.map((c) => c.subject);
  if (!trusted) return fail('the certificate does not chain to a trusted hospital CA', { leaf: leafSummary, leafKey, path: subjects });
  const expired = path.find((c) => c.notBefore.getTime() > at.getTime() || c.notAfter.getTime() < at.getTime());
  if (expired)
    return {
      ok: false,
      chain: true,
      validity: false,
      revocation: false,
      path: subjects,
      leaf: leafSummary,
      leafKey,
      problem: `the certificate "${expired.subject}" was not valid at the signing time`,
    };
  if (opts.revokedAt) {
    for (const c of path.slice(0, -1)) {
      const when = await opts.revokedAt(c, at);
      if (when)
        return {
          ok: false,
          chain: true,
          validity: true,
          revocation: false,
          path: subjects,
          leaf: leafSummary,
          leafKey,
          problem: `the certificate "${c.subject}" (serial ${c.serialNumber}) was revoked on ${when.toISOString()}`,
        };
    }
  }
  return { ok: true, chain: true, validity: true, revocation: opts.revokedAt !== undefined, path: subjects, leaf: leafSummary, leafKey };
}
