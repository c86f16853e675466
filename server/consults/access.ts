/** Who the caller is for the consult workflow, and who may see or act on a consult. Denials are audited. */
import type { Connection, Model } from 'mongoose';
import { consultRequestModel, type ConsultRequest } from '../../models/consult-request';
import { facilityModel, type Facility, type FacilityTier } from '../../models/facility';
import { userModel, type User } from '../../models/user';
import type { AuditAction, AuditLog } from '../audit/audit-log';
import { ForbiddenError, NotFoundError } from '../http/errors';
import type { Caller } from '../http/request-context';
import { isCandidateSpecialist, type Actor } from './state-machine';

/** What an audit entry needs from the request or the socket. */
export interface AuditCtx {
  requestId?: string;
  ip?: string;
}

export interface ConsultActor extends Actor {
  displayName: string;
}

export function isParticipant(c: Pick<ConsultRequest, 'participants'>, userId: string): boolean {
  return c.participants.some((p) => p.userId === userId);
}

export class ConsultAccess {
  readonly consults: Model<ConsultRequest>;
  readonly #users: Model<User>;
  readonly #facilities: Model<Facility>;

  constructor(
    conn: Connection,
    private readonly audit: AuditLog,
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
      facilityTier: (facility?.tier as FacilityTier | undefined) ?? null,
      specialty: user?.specialty ?? null,
      displayName: user?.displayName ?? caller.userId,
    };
  }

  async user(userId: string): Promise<Pick<User, '_id' | 'displayName' | 'role' | 'facilityId' | 'specialty' | 'active'> | null> {
    return this.#users.findById(userId, { displayName: 1, role: 1, facilityId: 1, specialty: 1, active: 1 }).lean();
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
   * The consult, when the caller takes part in it. Central specialists of the requested specialty
   * may also read a consult that is waiting for acceptance (to decide on it). Anyone else: 403, audited.
   */
  async requireViewer(caller: Caller, consultId: string, ctx: AuditCtx, what: string): Promise<{ consult: ConsultRequest; actor: ConsultActor }> {
    const consult = await this.load(consultId);
    const actor = await this.actor(caller);
    if (isParticipant(consult, caller.userId)) return { consult, actor };
    if (consult.status === 'requested' && isCandidateSpecialist(actor, consult.requestedSpecialty)) return { consult, actor };
    return this.deny(caller, consult, `${what}: not a participant of this consult`, ctx);
  }

  /** Strictly a participant (chat, notes, attachments, room). */
  async requireParticipant(caller: Caller, consultId: string, ctx: AuditCtx, what: string): Promise<{ consult: ConsultRequest; actor: ConsultActor }> {
    const consult = await this.load(consultId);
    if (!isParticipant(consult, caller.userId)) return this.deny(caller, consult, `${what}: not a participant of this consult`, ctx);
    return { consult, actor: await this.actor(caller) };
  }

  async deny(caller: Caller, consult: Pick<ConsultRequest, '_id' | 'patientId'>, reason: string, ctx: AuditCtx): Promise<never> {
    await this.record(caller, consult, 'R', false, reason, ctx, 'access-denied');
    throw new ForbiddenError(`You do not take part in this consult (${reason.split(':')[0]})`);
  }

  /** An audit entry for a read that spans consults (the queue, my list): no single patient. */
  async recordListing(caller: Caller, outcomeDesc: string, ctx: AuditCtx, success = true): Promise<void> {
    await this.audit.record({ kind: success ? 'consult' : 'access-denied', action: 'R', success, outcomeDesc, agent: { userId: caller.userId, role: caller.role, facilityId: caller.facilityId, ip: ctx.ip }, requestId: ctx.requestId });
  }

  /** One audit entry for a consult action (kind `consult`, or `access-denied` for refusals). */
  async record(caller: Caller, consult: Pick<ConsultRequest, '_id' | 'patientId'>, action: AuditAction, success: boolean, outcomeDesc: string, ctx: AuditCtx, kind: 'consult' | 'access-denied' = 'consult'): Promise<void> {
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
