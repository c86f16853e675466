/** Break-glass: an explicit, reasoned, time-limited grant of access to one patient's record, flagged in the audit trail. */
import { randomUUID } from 'node:crypto';
import type { Connection, Model } from 'mongoose';
import type { BreakGlassGrant } from '../../contracts/emr-api';
import { breakGlassGrantModel, type BreakGlassGrantDoc } from '../../models/fhir-break-glass';
import type { AuditLog } from '../audit/audit-log';
import { ForbiddenError, NotFoundError } from '../platform/errors';
import type { Caller, RequestContext } from '../platform/request-context';

export const DEFAULT_BREAK_GLASS_MS = 60 * 60 * 1000;

export class BreakGlass {
  readonly grants: Model<BreakGlassGrantDoc>;

  constructor(
    conn: Connection,
    private readonly audit: AuditLog,
    private readonly patientExists: (patientId: string) => Promise<boolean>,
  ) {
    this.grants = breakGlassGrantModel(conn);
  }

  /** End of the caller's latest active grant for the patient, if any. */
  async activeUntil(userId: string, patientId: string, now = new Date()): Promise<Date | undefined> {
    const g = await this.grants
      .findOne({ userId, patientId, expiresAt: { $gt: now } })
      .sort({ expiresAt: -1 })
      .lean<BreakGlassGrantDoc>();
    return g?.expiresAt;
  }

  /** Patients the user holds an active grant for. */
  async activePatientIds(userId: string, now = new Date()): Promise<string[]> {
    // eslint-disable-next-line @typescript-eslint/no-unnecessary-type-assertion -- mongoose's distinct() result is any at runtime; the cast documents the shape
    return (await this.grants.distinct('patientId', { userId, expiresAt: { $gt: now } })) as string[];
  }

  async reasonFor(userId: string, patientId: string, now = new Date()): Promise<string | undefined> {
    const g = await this.grants
      .findOne({ userId, patientId, expiresAt: { $gt: now } })
      .sort({ expiresAt: -1 })
      .lean<BreakGlassGrantDoc>();
    return g?.reason;
  }

  async request(caller: Caller, patientId: string, reason: string, ctx: RequestContext, durationMs = DEFAULT_BREAK_GLASS_MS): Promise<BreakGlassGrant> {
    if (caller.role === 'admin') {
      await this.audit.record({
        kind: 'access-denied',
        action: 'E',
        success: false,
        outcomeDesc: 'break-glass refused: admin role',
        agent: agentOf(caller, ctx),
        patientId,
        requestId: ctx.requestId,
      });
      throw new ForbiddenError('Break-glass is for clinicians treating the patient; the admin role cannot use it');
    }
    if (!(await this.patientExists(patientId))) throw new NotFoundError(`Patient/${patientId} is not known`);
    const grantedAt = new Date();
    const doc: BreakGlassGrantDoc = {
      _id: randomUUID(),
      userId: caller.userId,
      role: caller.role,
      facilityId: caller.facilityId,
      patientId,
      reason,
      grantedAt,
      expiresAt: new Date(grantedAt.getTime() + durationMs),
    };
    await this.grants.create(doc);
    await this.audit.record({
      kind: 'break-glass',
      action: 'E',
      success: true,
      outcomeDesc: 'break-glass access granted',
      agent: agentOf(caller, ctx),
      patientId,
      breakGlassReason: reason,
      entities: [`Patient/${patientId}`],
      requestId: ctx.requestId,
    });
    return toGrant(doc, grantedAt);
  }

  /** For the admin review list: newest first. */
  async list(limit = 200): Promise<BreakGlassGrant[]> {
    const now = new Date();
    const docs = await this.grants.find({}).sort({ grantedAt: -1 }).limit(Math.min(limit, 1000)).lean<BreakGlassGrantDoc[]>();
    return docs.map((d) => toGrant(d, now));
  }
}

function toGrant(d: BreakGlassGrantDoc, now: Date): BreakGlassGrant {
  return {
    id: d._id,
    userId: d.userId,
    role: d.role,
    facilityId: d.facilityId,
    patientId: d.patientId,
    reason: d.reason,
    grantedAt: d.grantedAt.toISOString(),
    expiresAt: d.expiresAt.toISOString(),
    active: d.expiresAt.getTime() > now.getTime(),
  };
}

export function agentOf(caller: Caller, ctx?: RequestContext) {
  return { userId: caller.userId, role: caller.role, facilityId: caller.facilityId, ...(ctx?.ip ? { ip: ctx.ip } : {}) };
}
