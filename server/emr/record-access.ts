/**
 * Gathers the facts for the access policy (care team, consult participation, Consent, break-glass),
 * asks `decideAccess`, and audits: every allowed access and every denial of a patient's record.
 */
import type { AuditAction, AuditLog } from '../audit/audit-log';
import type { ConsultDirectory } from '../consults/directory-api';
import { ForbiddenError } from '../platform/errors';
import type { Caller, RequestContext } from '../platform/request-context';
import { consentDecision, decideAccess, type AccessFacts, type ConsentDecision } from './access-policy';
import { agentOf, type BreakGlass } from './break-glass';
import type { CareTeam } from './care-team';
import type { AccessDecision, RecordAction } from './records-api';
import type { ResourceStore } from './resource-store';

export class RecordAccess {
  constructor(
    private readonly store: ResourceStore,
    private readonly breakGlass: BreakGlass,
    private readonly audit: AuditLog,
    private readonly consults: () => ConsultDirectory | undefined,
    readonly careTeam: CareTeam,
  ) {}

  async consentOf(patientId: string): Promise<ConsentDecision> {
    const docs = await this.store.resources
      .find({ type: 'Consent', patientId, deleted: false }, { resource: 1 })
      .lean<{ resource: Record<string, unknown> }[]>();
    return consentDecision(docs.map((d) => d.resource));
  }

  /**
   * The policy's answer for one patient (no audit). `patient`: the Patient document when the caller
   * has just read it (null: there is none), so it is not read twice.
   */
  async check(caller: Caller, patientId: string, action: RecordAction, patient?: { registeredByFacilityId?: string } | null): Promise<AccessDecision> {
    const now = new Date();
    const inTeam = (await this.careTeam.includes(patientId, caller.facilityId, patient)) ?? false;
    const base = careTeamFacts(caller, patientId, action, inTeam, now);
    if (inTeam) return decideAccess(base);
    const directory = this.consults();
    const consultParticipant = directory ? await directory.isConsultParticipantForPatient(caller.userId, patientId).catch(() => false) : false;
    const consent = consultParticipant ? await this.consentOf(patientId) : 'none';
    const breakGlassUntil = await this.breakGlass.activeUntil(caller.userId, patientId, now);
    return decideAccess({ ...base, consultParticipant, consent, breakGlassUntil });
  }

  /** Checks, audits the outcome, and throws 403 when denied. */
  async enforce(
    caller: Caller,
    patientId: string,
    action: AuditAction,
    ctx: RequestContext | undefined,
    entities: string[],
    note?: string,
    patient?: { registeredByFacilityId?: string } | null,
  ): Promise<AccessDecision> {
    const decision = await this.check(caller, patientId, action === 'R' ? 'read' : 'write', patient);
    await this.auditDecision(caller, patientId, action, ctx, entities, decision, note);
    if (!decision.allow) throw new ForbiddenError(decision.reason);
    return decision;
  }

  async auditDecision(
    caller: Caller,
    patientId: string,
    action: AuditAction,
    ctx: RequestContext | undefined,
    entities: string[],
    decision: AccessDecision,
    note?: string,
  ): Promise<void> {
    const capped = entities.slice(0, 50);
    const more = entities.length > capped.length ? ` (+${entities.length - capped.length} more)` : '';
    if (!decision.allow) {
      await this.audit.record({
        kind: 'access-denied',
        action,
        success: false,
        outcomeDesc: `${note ?? ''}${note ? ': ' : ''}${decision.reason}`.slice(0, 300),
        agent: agentOf(caller, ctx),
        patientId,
        entities: capped,
        requestId: ctx?.requestId,
      });
      return;
    }
    const breakGlassReason = decision.basis === 'break-glass' ? await this.breakGlass.reasonFor(caller.userId, patientId) : undefined;
    await this.audit.record({
      kind: decision.basis === 'break-glass' ? 'break-glass' : 'patient-record',
      action,
      success: true,
      outcomeDesc: `${note ?? ''}${note ? '; ' : ''}${decision.reason}${more}`.slice(0, 300),
      agent: agentOf(caller, ctx),
      patientId,
      entities: capped,
      ...(breakGlassReason ? { breakGlassReason } : {}),
      requestId: ctx?.requestId,
    });
  }

  /**
   * Of these patients, the ones the caller may read (the same rule as `check`). Care team, break-glass
   * and consult participation are answered in a few queries; Consent is read for consult patients only.
   */
  async readablePatientIds(caller: Caller, candidates: string[]): Promise<Set<string>> {
    return new Set((await this.readableWithDecisions(caller, candidates)).keys());
  }

  /**
   * `readablePatientIds`, with the policy's decision for each patient readable through its care team
   * (the same `decideAccess` over the same facts `check` gathers), so a search audits them without
   * asking again; other readable patients (break-glass, consult) map to null: ask `check`.
   */
  async readableWithDecisions(caller: Caller, candidates: string[]): Promise<Map<string, AccessDecision | null>> {
    const allowed = new Map<string, AccessDecision | null>();
    if (!candidates.length) return allowed;
    if (caller.role === 'admin') return allowed;
    const inTeam = await this.careTeam.patientsWithMember(candidates, caller.facilityId);
    const now = new Date();
    const outsideTeam: string[] = [];
    for (const id of candidates) {
      if (inTeam.has(id)) allowed.set(id, decideAccess(careTeamFacts(caller, id, 'read', true, now)));
      else outsideTeam.push(id);
    }
    if (!outsideTeam.length) return allowed;
    const grants = new Set(await this.breakGlass.activePatientIds(caller.userId));
    const rest: string[] = [];
    for (const id of outsideTeam) {
      if (grants.has(id)) allowed.set(id, null);
      else rest.push(id);
    }
    const directory = this.consults();
    if (directory && rest.length) {
      const inConsult = new Set(await directory.consultPatientIds(caller.userId).catch(() => [] as string[]));
      for (const id of rest) if (inConsult.has(id) && (await this.consentOf(id)) === 'permit') allowed.set(id, null);
    }
    return allowed;
  }
}

/**
 * What the policy is told about a patient before consult participation, consent and break-glass are
 * looked up (enough for a care-team member). The policy asks of the care team only whether the
 * caller's facility is in it, so the team is given as far as the caller is concerned: their facility
 * or nobody (the whole team would cost a read of the grants on every request).
 */
function careTeamFacts(caller: Caller, patientId: string, action: RecordAction, callerInTeam: boolean, now: Date): AccessFacts {
  return { caller, patientId, action, careTeamFacilityIds: callerInTeam ? [caller.facilityId] : [], now, consultParticipant: false, consent: 'none' };
}
