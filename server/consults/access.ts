/** Who the caller is for the consult workflow, and who may see or act on a consult. Denials are audited. */
import type { Connection, Model } from 'mongoose';
import { consultRequestModel, type ConsultRequest } from '../../models/consult-request';
import { facilityModel, type Facility } from '../../models/facility';
import { userModel, type User } from '../../models/user';
import type { AuditAction, AuditLog } from '../audit/audit-log';
import { ForbiddenError, NotFoundError } from '../platform/errors';
import type { Caller, RequestContext } from '../platform/request-context';
import type { PatientRecords } from '../emr/records-api';
import { isCandidateSpecialist, normalizeSpecialty, OPEN_STATUSES, type Actor } from './state-machine';

export interface ConsultActor extends Actor {
  displayName: string;
}

export function isParticipant(c: Pick<ConsultRequest, 'participants'>, userId: string): boolean {
  return c.participants.some((p) => p.userId === userId);
}

/** How long after closing a consult its participants keep access to the record and the consult's data. */
export const CONSULT_ACCESS_DAYS_AFTER_CLOSE = 14;
const DAY_MS = 24 * 60 * 60 * 1000;

/** Open (submitted, not finished) or closed less than CONSULT_ACCESS_DAYS_AFTER_CLOSE ago. Declined, cancelled, expired: never. */
export function consultWindowOpen(c: Pick<ConsultRequest, 'status' | 'closedAt'>, now = Date.now()): boolean {
  if (c.status === 'closed') return !!c.closedAt && new Date(c.closedAt).getTime() >= now - CONSULT_ACCESS_DAYS_AFTER_CLOSE * DAY_MS;
  return c.status !== 'draft' && OPEN_STATUSES.includes(c.status);
}

export class ConsultAccess {
  readonly consults: Model<ConsultRequest>;
  readonly #users: Model<User>;
  readonly #facilities: Model<Facility>;

  constructor(
    conn: Connection,
    private readonly audit: AuditLog,
    private readonly records: PatientRecords,
  ) {
    this.consults = consultRequestModel(conn);
    this.#users = userModel(conn);
    this.#facilities = facilityModel(conn);
  }

  async actor(caller: Caller): Promise<ConsultActor> {
    const [user, facility] = await Promise.all([
      this.#users.findById(caller.userId, { displayName: 1, specialty: 1 }).lean(),
      this.#facilities.findById(caller.facilityId, { tier: 1 }).lean(),
    ]);
    return {
      userId: caller.userId,
      role: caller.role,
      facilityId: caller.facilityId,
      facilityTier: facility?.tier ?? null,
      specialty: user?.specialty ?? null,
      displayName: user?.displayName ?? caller.userId,
    };
  }

  async user(userId: string): Promise<Pick<User, '_id' | 'displayName' | 'role' | 'facilityId' | 'specialty' | 'active'> | null> {
    return this.#users.findById(userId, { displayName: 1, role: 1, facilityId: 1, specialty: 1, active: 1 }).lean();
  }

  /** Active central-hospital specialists/radiologists of this specialty: who may see the request in the queue. */
  async candidateSpecialistIds(requestedSpecialty: string): Promise<string[]> {
    const central = await this.centralFacilityIds();
    if (!central.length) return [];
    const staff = await this.#users
      .find({ active: true, role: { $in: ['specialist', 'radiologist'] }, facilityId: { $in: central } }, { _id: 1, specialty: 1 })
      .lean();
    const wanted = normalizeSpecialty(requestedSpecialty);
    return wanted ? staff.filter((u) => normalizeSpecialty(u.specialty) === wanted).map((u) => u._id) : [];
  }

  async centralFacilityIds(): Promise<string[]> {
    const list = await this.#facilities.find({ tier: 'central', active: true }, { _id: 1 }).lean();
    return list.map((f) => f._id);
  }

  async load(consultId: string): Promise<ConsultRequest> {
    const c = await this.consults.findById(consultId).lean<ConsultRequest>();
    if (!c) throw new NotFoundError(`No consult ${consultId}`);
    return c;
  }

  /**
   * The consult, when the caller takes part in it and the record's rules let them see its patient's
   * data now (care team, break-glass, or participation in this consult while its window is open and
   * the patient's Consent permits sharing). Central specialists of the requested specialty may also
   * read a consult waiting in the queue when the patient's Consent permits sharing (to decide on it).
   * Anyone else: 403, audited.
   */
  async requireViewer(caller: Caller, consultId: string, ctx: RequestContext, what: string): Promise<{ consult: ConsultRequest; actor: ConsultActor }> {
    const consult = await this.load(consultId);
    const actor = await this.actor(caller);
    if (isParticipant(consult, caller.userId)) return this.#withRecordAccess(caller, consult, actor, ctx, what);
    if (consult.status === 'requested' && isCandidateSpecialist(actor, consult.requestedSpecialty)) {
      if ((await this.records.consultSharing(consult.patientId)) === 'permit') return { consult, actor };
      return this.deny(caller, consult, `${what}: the patient's Consent does not permit sharing for consultation`, ctx);
    }
    return this.deny(caller, consult, `${what}: not a participant of this consult`, ctx);
  }

  /** Strictly a participant (chat, notes, attachments, report, room), under the record's rules. */
  async requireParticipant(caller: Caller, consultId: string, ctx: RequestContext, what: string): Promise<{ consult: ConsultRequest; actor: ConsultActor }> {
    const consult = await this.load(consultId);
    if (!isParticipant(consult, caller.userId)) return this.deny(caller, consult, `${what}: not a participant of this consult`, ctx);
    return this.#withRecordAccess(caller, consult, await this.actor(caller), ctx, what);
  }

  /** Whether a participant may see this consult's clinical content now (no audit). */
  async contentVisible(caller: Caller, consult: ConsultRequest): Promise<{ ok: true } | { ok: false; reason: string }> {
    if (caller.role === 'admin') return { ok: false, reason: 'the admin role gives no clinical access' };
    const decision = await this.records.checkAccess(caller, consult.patientId, 'read');
    if (!decision.allow) return { ok: false, reason: decision.reason };
    if (decision.basis === 'consult' && !consultWindowOpen(consult))
      return { ok: false, reason: `this consult is ${consult.status}; its access window has ended` };
    return { ok: true };
  }

  async #withRecordAccess(
    caller: Caller,
    consult: ConsultRequest,
    actor: ConsultActor,
    ctx: RequestContext,
    what: string,
  ): Promise<{ consult: ConsultRequest; actor: ConsultActor }> {
    const visible = await this.contentVisible(caller, consult);
    if (!visible.ok) return this.deny(caller, consult, `${what}: ${visible.reason}`, ctx);
    return { consult, actor };
  }

  async deny(caller: Caller, consult: Pick<ConsultRequest, '_id' | 'patientId'>, reason: string, ctx: RequestContext): Promise<never> {
    await this.record(caller, consult, 'R', false, reason.slice(0, 300), ctx, 'access-denied');
    throw new ForbiddenError(`You do not take part in this consult or may not see it now (${reason.slice(0, 200)})`);
  }

  /** An audit entry for a read that spans consults (the queue, my list): no single patient. */
  async recordListing(caller: Caller, outcomeDesc: string, ctx: RequestContext, success = true): Promise<void> {
    await this.audit.record({
      kind: success ? 'consult' : 'access-denied',
      action: 'R',
      success,
      outcomeDesc,
      agent: { userId: caller.userId, role: caller.role, facilityId: caller.facilityId, ip: ctx.ip },
      requestId: ctx.requestId,
    });
  }

  /** One audit entry for a consult action (kind `consult`, or `access-denied` for refusals). */
  async record(
    caller: Caller,
    consult: Pick<ConsultRequest, '_id' | 'patientId'>,
    action: AuditAction,
    success: boolean,
    outcomeDesc: string,
    // The call admission is asked by the SFU without its socket's context: no request id or address then.
    ctx: Partial<Pick<RequestContext, 'requestId' | 'ip'>>,
    kind: 'consult' | 'access-denied' = 'consult',
  ): Promise<void> {
    await this.audit.record({
      kind,
      action,
      success,
      outcomeDesc,
      agent: { userId: caller.userId, role: caller.role, facilityId: caller.facilityId, ip: ctx.ip },
      patientId: consult.patientId,
      entities: [`ServiceRequest/${consult._id}`],
      requestId: ctx.requestId,
    });
  }
}
