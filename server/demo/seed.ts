import { randomBytes } from 'node:crypto';
import type { Connection } from 'mongoose';
import { facilityModel, type Facility } from '../../models/facility';
import { userModel, type User } from '../../models/user';
import { hashPassword } from '../auth/passwords';

export const DEMO_FACILITIES = {
  central: { _id: 'fac-bachmai', name: 'Bệnh viện Bạch Mai', tier: 'central', province: 'Hà Nội', moHCode: '01929' },
  districtA: { _id: 'fac-mocchau', name: 'Trung tâm Y tế huyện Mộc Châu', tier: 'district', province: 'Sơn La', moHCode: '14010' },
  districtB: { _id: 'fac-bacha', name: 'Trung tâm Y tế huyện Bắc Hà', tier: 'district', province: 'Lào Cai', moHCode: '10006' },
} as const satisfies Record<string, Pick<Facility, '_id' | 'name' | 'tier' | 'province' | 'moHCode'>>;

export const DEMO_USERS = [
  {
    _id: 'usr-referrer',
    email: 'referrer@district.demo',
    displayName: 'BS. Nguyễn Văn An',
    role: 'referring_doctor',
    facilityId: DEMO_FACILITIES.districtA._id,
    specialty: 'general practice',
  },
  {
    _id: 'usr-specialist',
    email: 'specialist@central.demo',
    displayName: 'PGS.TS. Trần Thị Bình',
    role: 'specialist',
    facilityId: DEMO_FACILITIES.central._id,
    specialty: 'pulmonology',
  },
  {
    _id: 'usr-radiologist',
    email: 'radiologist@central.demo',
    displayName: 'BS. Lê Minh Châu',
    role: 'radiologist',
    facilityId: DEMO_FACILITIES.central._id,
    specialty: 'radiology',
  },
  { _id: 'usr-admin', email: 'admin@central.demo', displayName: 'Quản trị hệ thống', role: 'admin', facilityId: DEMO_FACILITIES.central._id },
] as const satisfies ReadonlyArray<Pick<User, '_id' | 'email' | 'displayName' | 'role' | 'facilityId'> & { specialty?: string }>;

export interface DemoSeedResult {
  seeded: boolean;
  /** Set only when this call generated the password (printed once, never stored in clear). */
  generatedPassword?: string;
}

/** Hooks run after the identity seed, for features that add demo data (the demo patient, ...). */
export type DemoSeedStep = (conn: Connection) => Promise<void>;

/**
 * First start only: one central hospital, two district clinics, one user per role.
 * The password is HOICHAN_DEMO_PASSWORD when set, else generated and returned once.
 */
export async function seedDemo(conn: Connection, password: string | undefined, steps: DemoSeedStep[] = []): Promise<DemoSeedResult> {
  const facilities = facilityModel(conn);
  const users = userModel(conn);
  let result: DemoSeedResult = { seeded: false };
  if (!(await users.exists({ email: DEMO_USERS[0].email }))) {
    const pw = password ?? randomBytes(9).toString('base64url');
    for (const f of Object.values(DEMO_FACILITIES)) {
      await facilities.updateOne({ _id: f._id }, { $setOnInsert: { ...f, active: true } }, { upsert: true });
    }
    const passwordHash = await hashPassword(pw);
    for (const u of DEMO_USERS) {
      await users.updateOne({ _id: u._id }, { $setOnInsert: { ...u, passwordHash, active: true, locale: 'vi' } }, { upsert: true });
    }
    result = { seeded: true, generatedPassword: password ? undefined : pw };
  }
  for (const step of steps) await step(conn);
  return result;
}
