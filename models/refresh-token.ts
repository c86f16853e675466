import { Schema, type Connection } from 'mongoose';
import { modelOn } from './model-on';

/**
 * A refresh token, stored only as its SHA-256. Tokens of one login form a family: each refresh
 * uses the presented token up and issues the next; presenting a used token again revokes the family.
 */
export interface RefreshToken {
  _id: string;
  tokenHash: string;
  familyId: string;
  userId: string;
  expiresAt: Date;
  usedAt: Date | null;
  revokedAt: Date | null;
  revokedReason?: string;
  createdAt: Date;
}

const refreshTokenSchema = new Schema<RefreshToken>(
  {
    _id: { type: String, required: true },
    tokenHash: { type: String, required: true },
    familyId: { type: String, required: true, index: true },
    userId: { type: String, required: true, index: true },
    expiresAt: { type: Date, required: true },
    usedAt: { type: Date, default: null },
    revokedAt: { type: Date, default: null },
    revokedReason: { type: String },
  },
  { timestamps: { createdAt: true, updatedAt: false }, versionKey: false },
);
refreshTokenSchema.index({ tokenHash: 1 }, { unique: true });

export const refreshTokenModel = (conn: Connection) => modelOn(conn, 'RefreshToken', refreshTokenSchema);
