/** The small JSON API for the UI (/api/emr) and the admin review list of break-glass grants. */
import { Router } from 'express';
import { z } from 'zod';
import type { EmrPatientListItem, EmrPatientListResponse } from '../../contracts/emr-api';
import type { FhirResourceDoc } from '../../models/fhir-resource';
import { callerOf } from '../http/request-context';
import { parseInput } from '../http/validate';
import type { BreakGlass } from './break-glass';
import { headerOf, patientSummary } from './patient-records';
import type { RecordService } from './record-service';
import type { ApiDocs } from '../http/openapi';

const breakGlassBody = z.object({
  patientId: z.string().regex(/^[A-Za-z0-9\-.]{1,64}$/),
  reason: z.string().trim().min(10, 'give a reason of at least 10 characters').max(2000),
});

export const emrDocs: ApiDocs = {
  'GET /patients': { summary: "Patients the caller may open (care team, consult participation, active break-glass), newest first" },
  'GET /patients/:id/summary': { summary: 'The patient summary (IPS-style document Bundle) as the UI shows it; access-checked and audited' },
  'POST /break-glass': { summary: 'Emergency access to a record outside the care team for one hour, with a reason; audited and reviewed', body: breakGlassBody, status: 201 },
};

export const breakGlassAdminDocs: ApiDocs = {
  'GET /': { summary: 'Break-glass grants for review, newest first', roles: ['admin'] },
};

export function emrRouter(service: RecordService, breakGlass: BreakGlass): Router {
  const router = Router();

  router.get('/patients', async (req, res) => {
    const caller = callerOf(req);
    const body: EmrPatientListResponse = { patients: [] };
    if (caller.role !== 'admin') {
      const grants = new Set(await breakGlass.activePatientIds(caller.userId));
      const docs = await service.store.resources
        .find({ type: 'Patient', deleted: false, $or: [{ careTeamFacilityIds: caller.facilityId }, { id: { $in: [...grants] } }] }, { resource: 1, careTeamFacilityIds: 1, lastUpdated: 1, id: 1 })
        .sort({ lastUpdated: -1 })
        .limit(500)
        .lean<Pick<FhirResourceDoc, 'resource' | 'careTeamFacilityIds' | 'lastUpdated' | 'id'>[]>();
      body.patients = docs.map(
        (d): EmrPatientListItem => ({
          ...headerOf(d.resource ?? { resourceType: 'Patient', id: d.id }),
          access: d.careTeamFacilityIds.includes(caller.facilityId) ? 'care-team' : 'break-glass',
          careTeamFacilityIds: d.careTeamFacilityIds,
          lastUpdated: d.lastUpdated.toISOString(),
        }),
      );
    }
    res.json(body);
  });

  router.get('/patients/:id/summary', async (req, res) => {
    res.json(await patientSummary(service, callerOf(req), String(req.params.id), req.context));
  });

  router.post('/break-glass', async (req, res) => {
    const input = parseInput(breakGlassBody, req.body);
    res.status(201).json(await breakGlass.request(callerOf(req), input.patientId, input.reason, req.context));
  });

  return router;
}

export function breakGlassAdminRouter(breakGlass: BreakGlass): Router {
  const router = Router();
  router.get('/', async (req, res) => {
    const limit = Number(req.query.limit ?? 200);
    res.json({ grants: await breakGlass.list(Number.isInteger(limit) && limit > 0 ? limit : 200) });
  });
  return router;
}
