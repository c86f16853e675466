/**
 * /api/directory: people by name instead of ids.
 *  - colleagues of the caller's own hospital by name (to invite one to a consult),
 *  - names for the ids the UI shows (users for any signed-in user; patients for administrators only, audited),
 *  - the administrators' break-glass review: "mark reviewed" with a note, audited, one per grant.
 */
import { Router, type RequestHandler } from 'express';
import type { Connection } from 'mongoose';
import { z } from 'zod';
import type { BreakGlassReview, BreakGlassReviewListResponse, ColleagueSearchResponse, NamesResponse } from '../../contracts/directory-api';
import { breakGlassReviewModel } from '../../models/break-glass-review';
import { facilityModel } from '../../models/facility';
import { breakGlassGrantModel } from '../../models/fhir-break-glass';
import { USER_ROLES, userModel } from '../../models/user';
import type { AuditLog } from '../audit/audit-log';
import type { PatientRecords } from '../emr/records-api';
import { ConflictError, ForbiddenError, NotFoundError } from '../platform/errors';
import type { ApiDocs } from '../http/openapi';
import { callerOf } from '../http/request-context';
import { parseInput } from '../http/validate';

const idList = z
  .string()
  .max(4000)
  .optional()
  .transform((s) => [
    ...new Set(
      (s ?? '')
        .split(',')
        .map((x) => x.trim())
        .filter(Boolean),
    ),
  ])
  .pipe(z.array(z.string().regex(/^[A-Za-z0-9\-._:]{1,100}$/, 'ids: letters, digits, . _ : - only')).max(200));

export const colleagueQuery = z.object({
  q: z.string().trim().min(1, 'type at least one letter of the name').max(100),
  role: z.enum(USER_ROLES).optional(),
});
export const namesQuery = z.object({ users: idList, patients: idList });
const grantParam = z.object({ grantId: z.string().regex(/^[A-Za-z0-9\-._:]{1,100}$/) });
export const markReviewedBody = z.object({ note: z.string().trim().min(3, 'write a short note (at least 3 characters)').max(2000) }).strict();

export const directoryDocs: ApiDocs = {
  'GET /colleagues': {
    summary: "Active colleagues of the caller's own hospital whose name contains q (accents and case ignored), to invite by name",
    query: colleagueQuery,
  },
  'GET /names': { summary: 'Display names for user ids (any signed-in user) and patient ids (administrators; audited)', query: namesQuery },
  'GET /break-glass-reviews': { summary: 'Administrators: the break-glass accesses already marked reviewed, with reviewer and note', roles: ['admin'] },
  'POST /break-glass-reviews/:grantId': {
    summary: 'Administrators: mark one break-glass access reviewed with a note; audited; once per access',
    roles: ['admin'],
    body: markReviewedBody,
    status: 201,
  },
};

/** Lower case without Vietnamese diacritics ("Nguyễn" → "nguyen", "Đ" → "d"). */
export function foldName(s: string): string {
  return s.normalize('NFD').replace(/\p{M}/gu, '').replace(/đ/g, 'd').replace(/Đ/g, 'd').toLowerCase();
}

const adminOnly: RequestHandler = (req, _res, next) =>
  next(callerOf(req).role === 'admin' ? undefined : new ForbiddenError('Only administrators review break-glass access'));

export function directoryRouter(conn: Connection, audit: AuditLog, records: PatientRecords): Router {
  const users = userModel(conn);
  const facilities = facilityModel(conn);
  const grants = breakGlassGrantModel(conn);
  const reviews = breakGlassReviewModel(conn);
  const facilityNames = async (ids: string[]) => new Map((await facilities.find({ _id: { $in: ids } }, { name: 1 }).lean()).map((f) => [f._id, f.name]));
  const router = Router();

  router.get('/colleagues', async (req, res) => {
    const caller = callerOf(req);
    const { q, role } = parseInput(colleagueQuery, req.query, 'query');
    const wanted = foldName(q);
    const filter: Record<string, unknown> = { facilityId: caller.facilityId, active: true };
    if (role) filter.role = role;
    const found = (await users.find(filter, { displayName: 1, role: 1, specialty: 1, facilityId: 1 }).limit(2000).lean())
      .filter((u) => u._id !== caller.userId && foldName(u.displayName).includes(wanted))
      .sort((a, b) => a.displayName.localeCompare(b.displayName, 'vi'))
      .slice(0, 20);
    const names = await facilityNames([caller.facilityId]);
    const body: ColleagueSearchResponse = {
      colleagues: found.map((u) => ({
        id: u._id,
        displayName: u.displayName,
        role: u.role,
        ...(u.specialty ? { specialty: u.specialty } : {}),
        facilityId: u.facilityId,
        facilityName: names.get(u.facilityId) ?? u.facilityId,
      })),
    };
    res.setHeader('Cache-Control', 'private, no-store');
    res.json(body);
  });

  router.get('/names', async (req, res) => {
    const caller = callerOf(req);
    const q = parseInput(namesQuery, req.query, 'query');
    const body: NamesResponse = { users: {}, patients: {} };
    if (q.users.length) {
      const list = await users.find({ _id: { $in: q.users } }, { displayName: 1, role: 1, facilityId: 1 }).lean();
      const fac = await facilityNames([...new Set(list.map((u) => u.facilityId))]);
      for (const u of list) body.users[u._id] = { displayName: u.displayName, role: u.role, facilityName: fac.get(u.facilityId) ?? u.facilityId };
    }
    if (q.patients.length) {
      if (caller.role !== 'admin')
        throw new ForbiddenError(
          "Patient names by id are for the administrators' audit and break-glass review; clinicians see patients through their record access",
        );
      for (const id of q.patients) {
        const h = await records.patientHeader(id).catch(() => null);
        if (h?.name) body.patients[id] = { name: h.name };
      }
      for (const patientId of Object.keys(body.patients)) {
        await audit.record({
          kind: 'admin',
          action: 'R',
          success: true,
          outcomeDesc: 'patient name shown to an administrator (audit / break-glass review)',
          agent: { userId: caller.userId, role: caller.role, facilityId: caller.facilityId, ip: req.context.ip },
          patientId,
          entities: [`Patient/${patientId}`],
          requestId: req.context.requestId,
        });
      }
    }
    res.setHeader('Cache-Control', 'private, no-store');
    res.json(body);
  });

  router.get('/break-glass-reviews', adminOnly, async (_req, res) => {
    const list = await reviews.find({}).sort({ reviewedAt: -1 }).limit(1000).lean();
    const names = new Map(
      (await users.find({ _id: { $in: [...new Set(list.map((r) => r.reviewerId))] } }, { displayName: 1 }).lean()).map((u) => [u._id, u.displayName]),
    );
    const body: BreakGlassReviewListResponse = { reviews: list.map((r) => viewOf(r, names.get(r.reviewerId))) };
    res.setHeader('Cache-Control', 'private, no-store');
    res.json(body);
  });

  router.post('/break-glass-reviews/:grantId', adminOnly, async (req, res) => {
    const caller = callerOf(req);
    const { grantId } = parseInput(grantParam, req.params, 'params');
    const { note } = parseInput(markReviewedBody, req.body ?? {});
    const grant = await grants.findById(grantId).lean();
    if (!grant) throw new NotFoundError(`No break-glass access ${grantId}`);
    const doc = { _id: grantId, patientId: grant.patientId, reviewerId: caller.userId, note, reviewedAt: new Date() };
    try {
      await reviews.create(doc);
    } catch (err) {
      if ((err as { code?: number }).code === 11000) throw new ConflictError('This break-glass access has already been marked reviewed', 'already_reviewed');
      throw err;
    }
    await audit.record({
      kind: 'break-glass',
      action: 'U',
      success: true,
      outcomeDesc: `break-glass access reviewed by an administrator: ${note}`,
      agent: { userId: caller.userId, role: caller.role, facilityId: caller.facilityId, ip: req.context.ip },
      patientId: grant.patientId,
      entities: [`BreakGlass/${grantId}`],
      requestId: req.context.requestId,
    });
    const me = await users.findById(caller.userId, { displayName: 1 }).lean();
    res.status(201).json(viewOf(doc, me?.displayName));
  });
  return router;
}

function viewOf(r: { _id: string; patientId: string; reviewerId: string; note: string; reviewedAt: Date }, reviewerName: string | undefined): BreakGlassReview {
  return {
    grantId: r._id,
    patientId: r.patientId,
    reviewerId: r.reviewerId,
    reviewerName: reviewerName ?? r.reviewerId,
    note: r.note,
    reviewedAt: new Date(r.reviewedAt).toISOString(),
  };
}
