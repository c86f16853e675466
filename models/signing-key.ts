import { Schema, type Connection } from 'mongoose';
import { modelOn } from './model-on';

/**
 * A clinician's ES256 signing key pair. The private key is stored only encrypted (AES-256-GCM,
 * key derived with scrypt from the key-encryption secret and this key's salt; the kid is the AAD).
 * `_id` is the kid: the RFC 7638 JWK thumbprint of the public key. The hospital CA certifies the
 * public key (X.509, `certificate`); the JWS of a signed report carries that chain in `x5c`.
 */
export interface SigningKey {
  _id: string;
  userId: string;
  alg: 'ES256';
  publicJwk: { kty: 'EC'; crv: 'P-256'; x: string; y: string };
  /** base64url fields of the encrypted PKCS#8 DER private key. */
  encryptedPrivateKey: { salt: string; iv: string; tag: string; ciphertext: string };
  active: boolean;
  createdAt: Date;
  retiredAt: Date | null;
  /** base64 DER of the X.509 certificate the hospital CA issued for this key (absent on keys made before certificates). */
  certificate?: string;
  /** The certificate's serial number (hex), for the revocation list. */
  certificateSerial?: string;
}

const signingKeySchema = new Schema<SigningKey>(
  {
    _id: { type: String, required: true },
    userId: { type: String, required: true },
    alg: { type: String, enum: ['ES256'], required: true },
    publicJwk: {
      kty: { type: String, required: true },
      crv: { type: String, required: true },
      x: { type: String, required: true },
      y: { type: String, required: true },
    },
    encryptedPrivateKey: {
      salt: { type: String, required: true },
      iv: { type: String, required: true },
      tag: { type: String, required: true },
      ciphertext: { type: String, required: true },
    },
    active: { type: Boolean, default: true },
    retiredAt: { type: Date, default: null },
    certificate: { type: String },
    certificateSerial: { type: String },
  },
  { timestamps: { createdAt: true, updatedAt: false }, versionKey: false },
);
signingKeySchema.index({ userId: 1, active: 1 });

export const signingKeyModel = (conn: Connection) => modelOn(conn, 'SigningKey', signingKeySchema);
