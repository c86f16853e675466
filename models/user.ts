import { Schema, type Connection } from 'mongoose';
import { modelOn } from './model-on';

export const USER_ROLES = ['referring_doctor', 'specialist', 'radiologist', 'admin'] as const;
export type UserRole = (typeof USER_ROLES)[number];

/** A clinician or administrator who signs in. Exported to FHIR as Practitioner + PractitionerRole. */
export interface User {
  _id: string;
  email: string;
  displayName: string;
  role: UserRole;
  facilityId: string;
  /** e.g. "pulmonology", "radiology", "cardiology" */
  specialty?: string;
  /** scrypt$N$r$p$salt$hash */
  passwordHash: string;
  active: boolean;
  /** Bumped when the account's sessions must end (deactivation, role/facility/password change); access tokens carry it as `ver`. */
  sessionVersion?: number;
  locale: 'vi' | 'en';
  createdAt: Date;
  updatedAt: Date;
}

const userSchema = new Schema<User>(
  {
    _id: { type: String, required: true },
    email: { type: String, required: true, lowercase: true, trim: true, maxlength: 254 },
    displayName: { type: String, required: true, trim: true, maxlength: 200 },
    role: { type: String, enum: USER_ROLES, required: true },
    facilityId: { type: String, required: true, index: true },
    specialty: { type: String, trim: true, maxlength: 100 },
    passwordHash: { type: String, required: true },
    active: { type: Boolean, default: true },
    sessionVersion: { type: Number, default: 0 },
    locale: { type: String, enum: ['vi', 'en'], default: 'vi' },
  },
  { timestamps: true, versionKey: false },
);
userSchema.index({ email: 1 }, { unique: true });

export const userModel = (conn: Connection) => modelOn(conn, 'User', userSchema);
