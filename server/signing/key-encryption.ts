/** Private keys at rest: AES-256-GCM with a key derived by scrypt from the key-encryption secret and a per-key salt. */
import { createCipheriv, createDecipheriv, randomBytes, scryptSync } from 'node:crypto';

export interface EncryptedBlob {
  salt: string;
  iv: string;
  tag: string;
  ciphertext: string;
}

const SCRYPT = { N: 1 << 14, r: 8, p: 1, maxmem: 64 * 1024 * 1024 } as const;

function derive(secret: string, salt: Buffer): Buffer {
  return scryptSync(secret, salt, 32, SCRYPT);
}

export function encryptSecretBytes(plain: Buffer, secret: string, aad: string): EncryptedBlob {
  const salt = randomBytes(16);
  const iv = randomBytes(12);
  const cipher = createCipheriv('aes-256-gcm', derive(secret, salt), iv);
  cipher.setAAD(Buffer.from(aad, 'utf8'));
  const ciphertext = Buffer.concat([cipher.update(plain), cipher.final()]);
  return {
    salt: salt.toString('base64url'),
    iv: iv.toString('base64url'),
    tag: cipher.getAuthTag().toString('base64url'),
    ciphertext: ciphertext.toString('base64url'),
  };
}

/** Throws when the secret is wrong or the blob (or its AAD) was altered. */
export function decryptSecretBytes(blob: EncryptedBlob, secret: string, aad: string): Buffer {
  const decipher = createDecipheriv('aes-256-gcm', derive(secret, Buffer.from(blob.salt, 'base64url')), Buffer.from(blob.iv, 'base64url'));
  decipher.setAAD(Buffer.from(aad, 'utf8'));
  decipher.setAuthTag(Buffer.from(blob.tag, 'base64url'));
  return Buffer.concat([decipher.update(Buffer.from(blob.ciphertext, 'base64url')), decipher.final()]);
}
