/** The one access rule of imaging: the patient's record decides (PatientRecords.checkAccess), strictly. */
import type { AuditLog } from '../audit/audit-log';
import type { PatientRecords, RecordAction } from '../emr/records-api';
import { ForbiddenError, ServiceUnavailableError } from '../platform/errors';
import type { Caller, RequestContext } from '../platform/request-context';

export class ImagingAccess {
  constructor(
    private readonly records: PatientRecords,
    private readonly audit: AuditLog,
  ) {}

  /** Allowed or not, without auditing (the worklist filters with it and audits what it shows). */
  async allows(caller: Caller, patientId: string, action: RecordAction): Promise<boolean> {
    try {
      return (await this.records.checkAccess(caller, patientId, action)).allow;
    } catch {
      return false; // EMR unavailable: no access rather than a leak
    }
  }

  /** Throws 403 (audited as access-denied) unless the caller may act on the patient's record. */
  async enforce(caller: Caller, patientId: string, action: RecordAction, ctx: RequestContext, entities: string[] = []): Promise<void> {
    let allow: boolean;
    let reason: string;
    try {
      const decision = await this.records.checkAccess(caller, patientId, action);
      allow = decision.allow;
      reason = decision.reason;
    } catch (err) {
      throw new ServiceUnavailableError(`The patient record service is unavailable, so access to imaging cannot be checked: ${(err as Error).message}`);
    }
    if (allow) return;
    await this.audit.record({
      kind: 'access-denied',
      action: action === 'read' ? 'R' : 'C',
      success: false,
      outcomeDesc: `imaging ${action} refused: ${reason}`,
      agent: { userId: caller.userId, role: caller.role, facilityId: caller.facilityId, ip: ctx.ip },
      patientId,
      entities,
      requestId: ctx.requestId,
    });
    throw new ForbiddenError(`You have no ${action} access to this patient's record (${reason})`);
  }
}
