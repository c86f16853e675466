import { randomUUID } from 'node:crypto';
import { Router } from 'express';
import type { Connection } from 'mongoose';
import { z } from 'zod';
import type { FacilityDetail, UserSummary } from '../../contracts/api';
import { FACILITY_TIERS, facilityModel, type Facility } from '../../models/facility';
import { USER_ROLES, userModel, type User } from '../../models/user';
import type { AuditLog } from '../audit/audit-log';
import type { AuthService } from '../auth/auth-service';
import { hashPassword } from '../auth/passwords';
import { ConflictError, InvalidInputError, NotFoundError } from '../platform/errors';
import { callerOf } from '../http/request-context';
import { parseInput } from '../http/validate';
import type { ApiDocs } from '../http/openapi';

const password = z.string().min(10, 'at least 10 characters').max(256);
const newUserBody = z.object({
  email: z.email().max(254),
  displayName: z.string().min(1).max(200),
  role: z.enum(USER_ROLES),
  facilityId: z.string().min(1).max(100),
  specialty: z.string().max(100).optional(),
  locale: z.enum(['vi', 'en']).default('vi'),
  password,
});
const userPatchBody = z
  .object({
    displayName: z.string().min(1).max(200),
    role: z.enum(USER_ROLES),
    facilityId: z.string().min(1).max(100),
    specialty: z.string().max(100).nullable(),
    locale: z.enum(['vi', 'en']),
    active: z.boolean(),
    password,
  })
  .partial()
  .strict();
const facilityBody = z.object({
  name: z.string().min(1).max(200),
  tier: z.enum(FACILITY_TIERS),
  province: z.string().min(1).max(100),
  moHCode: z.string().max(20).optional(),
});
const facilityPatchBody = facilityBody.extend({ active: z.boolean() }).partial().strict();

export function toUserSummary(u: User): UserSummary {
  return {
    id: u._id,
    email: u.email,
    displayName: u.displayName,
    role: u.role,
    facilityId: u.facilityId,
    specialty: u.specialty ?? null,
    active: u.active,
    locale: u.locale,
  };
}
export function toFacilityDetail(f: Facility): FacilityDetail {
  return { id: f._id, name: f.name, tier: f.tier, province: f.province, moHCode: f.moHCode ?? null, active: f.active };
}

const ADMIN = ['admin'] as const;
export const adminDocs: ApiDocs = {
  'GET /users': { summary: 'All user accounts', roles: ADMIN },
  'POST /users': { summary: 'Create an account (a one-time password is returned once)', roles: ADMIN, body: newUserBody, status: 201 },
  'PATCH /users/:id': { summary: 'Change an account: role, facility, specialty, language, active', roles: ADMIN, body: userPatchBody },
  'GET /facilities': { summary: 'All facilities', roles: ADMIN },
  'POST /facilities': { summary: 'Register a facility (central hospital or district clinic)', roles: ADMIN, body: facilityBody, status: 201 },
  'PATCH /facilities/:id': { summary: 'Change or deactivate a facility', roles: ADMIN, body: facilityPatchBody },
};

/** /api/admin/users and /api/admin/facilities. Mounted behind requireRole('admin'). */
export function adminRouter(conn: Connection, audit: AuditLog, auth: AuthService): Router {
  const router = Router();
  const users = userModel(conn);
  const facilities = facilityModel(conn);

  const assertFacility = async (id: string) => {
    if (!(await facilities.exists({ _id: id }))) throw new InvalidInputError(`Unknown facility ${id}`, ['facilityId']);
  };

  router.get('/users', async (_req, res) => {
    res.json((await users.find().sort({ email: 1 }).lean()).map(toUserSummary));
  });

  router.post('/users', async (req, res) => {
    const body = parseInput(newUserBody, req.body);
    await assertFacility(body.facilityId);
    const email = body.email.toLowerCase();
    if (await users.exists({ email })) throw new ConflictError(`A user with email ${email} already exists`);
    const user = await users.create({
      _id: randomUUID(),
      email,
      displayName: body.displayName,
      role: body.role,
      facilityId: body.facilityId,
      specialty: body.specialty,
      locale: body.locale,
      passwordHash: await hashPassword(body.password),
      active: true,
    });
    await audit.record({
      kind: 'admin',
      action: 'C',
      success: true,
      agent: { ...callerOf(req), ip: req.context.ip },
      entities: [`Practitioner/${user._id}`],
      requestId: req.context.requestId,
    });
    res.status(201).json(toUserSummary(user.toObject()));
  });

  router.patch('/users/:id', async (req, res) => {
    const body = parseInput(userPatchBody, req.body);
    if (body.facilityId) await assertFacility(body.facilityId);
    const { password: newPassword, specialty, ...rest } = body;
    const update: Record<string, unknown> = { ...rest };
    if (specialty !== undefined) update.specialty = specialty ?? undefined;
    if (newPassword) update.passwordHash = await hashPassword(newPassword);
    const user = await users.findByIdAndUpdate(req.params.id, { $set: update }, { new: true }).lean();
    if (!user) throw new NotFoundError(`No user ${req.params.id}`);
    if (body.active === false || newPassword || body.role || body.facilityId) await auth.revokeSessions(user._id, 'changed by an administrator');
    await audit.record({
      kind: 'admin',
      action: 'U',
      success: true,
      outcomeDesc: `changed: ${Object.keys(body).join(', ')}`,
      agent: { ...callerOf(req), ip: req.context.ip },
      entities: [`Practitioner/${user._id}`],
      requestId: req.context.requestId,
    });
    res.json(toUserSummary(user));
  });

  router.get('/facilities', async (_req, res) => {
    res.json((await facilities.find().sort({ tier: 1, name: 1 }).lean()).map(toFacilityDetail));
  });

  router.post('/facilities', async (req, res) => {
    const body = parseInput(facilityBody, req.body);
    if (await facilities.exists({ name: body.name })) throw new ConflictError(`A facility named ${body.name} already exists`);
    const facility = await facilities.create({ _id: randomUUID(), ...body, active: true });
    await audit.record({
      kind: 'admin',
      action: 'C',
      success: true,
      agent: { ...callerOf(req), ip: req.context.ip },
      entities: [`Organization/${facility._id}`],
      requestId: req.context.requestId,
    });
    res.status(201).json(toFacilityDetail(facility.toObject()));
  });

  router.patch('/facilities/:id', async (req, res) => {
    const body = parseInput(facilityPatchBody, req.body);
    const facility = await facilities.findByIdAndUpdate(req.params.id, { $set: body }, { new: true }).lean();
    if (!facility) throw new NotFoundError(`No facility ${req.params.id}`);
    if (body.active === false) await auth.revokeFacility(facility._id, 'facility deactivated by an administrator');
    if (body.active === true) auth.facilityReactivated(facility._id);
    await audit.record({
      kind: 'admin',
      action: 'U',
      success: true,
      agent: { ...callerOf(req), ip: req.context.ip },
      entities: [`Organization/${facility._id}`],
      requestId: req.context.requestId,
    });
    res.json(toFacilityDetail(facility));
  });

  return router;
}
