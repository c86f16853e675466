import { Schema, type Connection } from 'mongoose';
import { modelOn } from './model-on';

/**
 * The demo hospital CA (used when no real CA is configured): its self-signed certificate and its
 * private key, stored only encrypted (like the specialists' keys; the AAD is `hospital-ca:<_id>`).
 */
export interface SigningCaDoc {
  _id: string;
  /** base64 DER of the CA certificate. */
  certificate: string;
  encryptedPrivateKey: { salt: string; iv: string; tag: string; ciphertext: string };
  createdAt: Date;
}

const signingCaSchema = new Schema<SigningCaDoc>(
  {
    _id: { type: String, required: true },
    certificate: { type: String, required: true },
    encryptedPrivateKey: {
      salt: { type: String, required: true },
      iv: { type: String, required: true },
      tag: { type: String, required: true },
      ciphertext: { type: String, required: true },
    },
  },
  { timestamps: { createdAt: true, updatedAt: false }, versionKey: false, collection: 'signing_cas' },
);

export const signingCaModel = (conn: Connection) => modelOn(conn, 'SigningCa', signingCaSchema);

/** A certificate the hospital CA revoked (its revocation list). `_id` is the certificate's serial number (hex). */
export interface SigningRevocationDoc {
  _id: string;
  kid: string;
  userId: string;
  reason: string;
  revokedAt: Date;
}

const signingRevocationSchema = new Schema<SigningRevocationDoc>(
  {
    _id: { type: String, required: true },
    kid: { type: String, required: true },
    userId: { type: String, required: true },
    reason: { type: String, required: true, maxlength: 500 },
    revokedAt: { type: Date, required: true },
  },
  { versionKey: false, collection: 'signing_revocations' },
);

export const signingRevocationModel = (conn: Connection) => modelOn(conn, 'SigningRevocation', signingRevocationSchema);
