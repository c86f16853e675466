import { Router } from 'express';
import { z } from 'zod';
import type { AuditEntrySummary, AuditVerification } from '../../contracts/api';
import type { AuditEntry } from '../../models/audit-entry';
import { callerOf } from '../http/request-context';
import { parseInput } from '../http/validate';
import type { AuditLog } from './audit-log';
import type { ApiDocs } from '../http/openapi';
import { placeOf } from './trail-format';

const listQuery = z.object({
  breakGlass: z.enum(['true', 'false']).optional(),
  patient: z.string().max(100).optional(),
  user: z.string().max(100).optional(),
  limit: z.coerce.number().int().min(1).max(1000).default(100),
});

export function toAuditSummary(e: AuditEntry): AuditEntrySummary {
  const ev = e.event as { outcomeDesc?: string; purposeOfEvent?: { text?: string }[] };
  return {
    seq: e._id,
    ...placeOf(e._id),
    recorded: e.recorded,
    kind: e.kind,
    action: e.action,
    success: e.success,
    agentUserId: e.agentUserId ?? null,
    patientId: e.patientId ?? null,
    breakGlass: e.breakGlass,
    outcomeDesc: ev.outcomeDesc ?? null,
    reason: ev.purposeOfEvent?.[0]?.text ?? null,
  };
}

export const auditDocs: ApiDocs = {
  'GET /verify': { summary: 'Verify the hash chain of the audit trail; names the first altered or removed entry', roles: ['admin'] },
  'GET /events': { summary: 'Audit entries, newest first', roles: ['admin'], query: listQuery },
};

/** /api/admin/audit: verify the chain, list entries. Mounted behind requireRole('admin'). */
export function auditAdminRouter(audit: AuditLog): Router {
  const router = Router();
  // Reading the trail is itself audited: it tells who looked at whose record.
  router.get('/verify', async (req, res) => {
    const result: AuditVerification = await audit.verify();
    await audit.record({
      kind: 'admin',
      action: 'E',
      success: true,
      outcomeDesc: `audit trail verified: ${result.ok ? 'intact' : 'problem found'}`,
      agent: { ...callerOf(req), ip: req.context.ip },
      entities: ['AuditEvent/$verify'],
      requestId: req.context.requestId,
    });
    res.status(result.ok ? 200 : 409).json(result);
  });
  router.get('/events', async (req, res) => {
    const q = parseInput(listQuery, req.query, 'query');
    const entries = await audit.list(
      { breakGlass: q.breakGlass === undefined ? undefined : q.breakGlass === 'true', patientId: q.patient, agentUserId: q.user },
      q.limit,
    );
    const filter = [q.patient ? `patient=${q.patient}` : '', q.user ? `user=${q.user}` : '', q.breakGlass ? `breakGlass=${q.breakGlass}` : '']
      .filter(Boolean)
      .join('&');
    await audit.record({
      kind: 'admin',
      action: 'R',
      success: true,
      outcomeDesc: `read ${entries.length} audit entries`,
      agent: { ...callerOf(req), ip: req.context.ip },
      entities: [`AuditEvent?${filter}`],
      requestId: req.context.requestId,
    });
    res.json(entries.map(toAuditSummary));
  });
  return router;
}
