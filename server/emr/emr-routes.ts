/** The small JSON API for the UI (/api/emr) and the admin review list of break-glass grants. */
import { Router } from 'express';
import { z } from 'zod';
import type { EmrPatientListItem, EmrPatientListResponse } from '../../contracts/emr-api';
import type { FhirResourceDoc } from '../../models/fhir-resource';
import { callerOf } from '../http/request-context';
import { parseInput } from '../http/validate';
import type { AuditLog } from '../audit/audit-log';
import { agentOf, type BreakGlass } from './break-glass';
import type { CareTeam } from './care-team';
import { headerOf, patientSummary } from './patient-records';
import type { RecordService } from './record-service';
import type { ApiDocs } from '../http/openapi';

const breakGlassBody = z.object({
  patientId: z.string().regex(/^[A-Za-z0-9\-.]{1,64}$/),
  reason: z.string().trim().min(10, 'give a reason of at least 10 characters').max(2000),
});

/** The patient list shows the most recently updated this many (a district facility's whole care-team list, in practice). */
const PATIENT_LIST_MAX = 500;
const FHIR_ID = /^[A-Za-z0-9\-.]{1,64}$/;
const patientIdParams = z.object({ id: z.string().regex(FHIR_ID) });
const careRevokeParams = z.object({ id: z.string().regex(FHIR_ID), facilityId: z.string().min(1).max(100) });
const careGrantBody = z.object({
  facilityId: z.string().min(1).max(100),
  reason: z.string().trim().min(10, 'give a reason of at least 10 characters').max(2000),
});

export const emrDocs: ApiDocs = {
  'GET /patients': {
    summary: 'Patients the caller may open (care team by registration or grant, active break-glass), newest first; each listed patient is audited',
  },
  'GET /patients/:id/summary': { summary: 'The patient summary (IPS-style document Bundle) as the UI shows it; access-checked and audited' },
  'GET /patients/:id/care-team': { summary: "The patient's care team: the registering facility and explicit grants (care-team staff only); audited" },
  'POST /patients/:id/care-team': {
    summary: "Add a facility to the patient's care team, with a reason (staff of a facility already in the team by registration or grant); audited",
    body: careGrantBody,
    status: 201,
  },
  'DELETE /patients/:id/care-team/:facilityId': { summary: 'End a care-team grant (not the registration); audited', status: 204 },
  'POST /break-glass': {
    summary: 'Emergency access to a record outside the care team for one hour, with a reason; audited and reviewed',
    body: breakGlassBody,
    status: 201,
  },
};

export const breakGlassAdminDocs: ApiDocs = {
  'GET /': { summary: 'Break-glass grants for review, newest first', roles: ['admin'] },
};

export function emrRouter(service: RecordService, breakGlass: BreakGlass, careTeam: CareTeam): Router {
  const router = Router();

  router.get('/patients', async (req, res) => {
    const caller = callerOf(req);
    const body: EmrPatientListResponse = { patients: [] };
    if (caller.role === 'admin') {
      await service.audit.record({
        kind: 'access-denied',
        action: 'R',
        success: false,
        outcomeDesc: 'patient list: the admin role gives no clinical access',
        agent: agentOf(caller, req.context),
        requestId: req.context.requestId,
      });
      res.json(body);
      return;
    }
    const [teamIds, grants] = await Promise.all([careTeam.patientIdsOfFacility(caller.facilityId), breakGlass.activePatientIds(caller.userId)]);
    const grantSet = new Set(grants);
    const teamSet = new Set(teamIds);
    // Point reads by _id: FerretDB v1 pushes no `$in` down, so `{_id: {$in}}` would read every resource of the hospital.
    const docs = (
      await service.store.docsByKeys<Pick<FhirResourceDoc, 'resource' | 'lastUpdated' | 'id'>>(
        [...new Set([...teamIds, ...grants])].map((id) => `Patient/${id}`),
        { resource: 1, lastUpdated: 1, id: 1 },
        { currentOnly: true },
      )
    )
      .sort((a, b) => b.lastUpdated.getTime() - a.lastUpdated.getTime())
      .slice(0, PATIENT_LIST_MAX);
    const teams = await careTeam.teamsOf(docs.map((d) => d.id));
    body.patients = docs
      .filter((d) => teamSet.has(d.id) || grantSet.has(d.id))
      .map((d): EmrPatientListItem => ({
        ...headerOf(d.resource ?? { resourceType: 'Patient', id: d.id }),
        access: teamSet.has(d.id) ? 'care-team' : 'break-glass',
        careTeamFacilityIds: teams.get(d.id) ?? [],
        lastUpdated: d.lastUpdated.toISOString(),
      }));
    // One audit entry per patient shown (a list discloses names, birth dates, masked citizen ids).
    for (const p of body.patients) {
      await service.audit.record({
        kind: p.access === 'break-glass' ? 'break-glass' : 'patient-record',
        action: 'R',
        success: true,
        outcomeDesc: `patient list (${p.access})`,
        agent: agentOf(caller, req.context),
        patientId: p.id,
        entities: [`Patient/${p.id}`],
        requestId: req.context.requestId,
      });
    }
    res.json(body);
  });

  router.get('/patients/:id/summary', async (req, res) => {
    res.json(await patientSummary(service, callerOf(req), parseInput(patientIdParams, req.params, 'params').id, req.context));
  });

  router.get('/patients/:id/care-team', async (req, res) => {
    res.json({ members: await careTeam.members(callerOf(req), parseInput(patientIdParams, req.params, 'params').id, req.context) });
  });

  router.post('/patients/:id/care-team', async (req, res) => {
    const { id } = parseInput(patientIdParams, req.params, 'params');
    const input = parseInput(careGrantBody, req.body);
    res.status(201).json(await careTeam.grant(callerOf(req), id, input.facilityId, input.reason, req.context));
  });

  router.delete('/patients/:id/care-team/:facilityId', async (req, res) => {
    const { id, facilityId } = parseInput(careRevokeParams, req.params, 'params');
    await careTeam.revoke(callerOf(req), id, facilityId, req.context);
    res.status(204).end();
  });

  router.post('/break-glass', async (req, res) => {
    const input = parseInput(breakGlassBody, req.body);
    res.status(201).json(await breakGlass.request(callerOf(req), input.patientId, input.reason, req.context));
  });

  return router;
}

export function breakGlassAdminRouter(breakGlass: BreakGlass, audit: AuditLog): Router {
  const router = Router();
  router.get('/', async (req, res) => {
    const limit = Number(req.query.limit ?? 200);
    const grants = await breakGlass.list(Number.isInteger(limit) && limit > 0 ? limit : 200);
    // Which patients had emergency access, and why, is itself sensitive: the review is audited.
    await audit.record({
      kind: 'admin',
      action: 'R',
      success: true,
      outcomeDesc: `break-glass review: ${grants.length} grants listed`,
      agent: agentOf(callerOf(req), req.context),
      entities: [...new Set(grants.map((g) => `Patient/${g.patientId}`))].slice(0, 50),
      requestId: req.context.requestId,
    });
    res.json({ grants });
  });
  return router;
}
