/** ConsultRequest: create, list, queue, read, transitions, invitations. Every action is audited. */
import { randomUUID } from 'node:crypto';
import type { z } from 'zod';
import type { ConsultAction, ConsultAiState, ConsultQueueItem, ConsultView, PatientHeaderView } from '../../contracts/consult-api';
import type { ConsultParticipant, ConsultRequest } from '../../models/consult-request';
import { imagingStudyModel } from '../../models/imaging-study';
import type { PatientRecords } from '../emr/records-api';
import { ConflictError, ForbiddenError, InvalidInputError, ServiceUnavailableError } from '../platform/errors';
import type { Caller, RequestContext } from '../platform/request-context';
import type { Logger } from '../observability/logger';
import type { DomainEvents } from '../platform/domain-events';
import { isParticipant, type ConsultAccess, type ConsultActor } from './access';
import type { ConsultNotifier } from './notifier';
import type { createConsultSchema, inviteSchema, transitionBodySchema } from './schemas';
import { compareQueue, slaDeadline } from './sla';
import { decideTransition, isCandidateSpecialist, OPEN_STATUSES, TERMINAL_STATUSES } from './state-machine';
import { aiStateOf, consultView, redactedView, storedAiState } from './views';
import { strongestFlag } from '../../contracts/triage-priority';

export type CreateConsultInput = z.infer<typeof createConsultSchema>;
type TransitionInput = z.infer<typeof transitionBodySchema>;
type InviteInput = z.infer<typeof inviteSchema>;

export class ConsultService {
  constructor(
    private readonly access: ConsultAccess,
    private readonly records: PatientRecords,
    private readonly notifier: ConsultNotifier,
    private readonly logger: Logger,
    private readonly events: DomainEvents,
  ) {}

  get consults() {
    return this.access.consults;
  }

  /** The patient header for lists; null while the EMR cannot answer (the consult flow does not depend on it). */
  async patientHeader(patientId: string): Promise<PatientHeaderView | null> {
    try {
      return (await this.records.patientHeader(patientId)) ?? null;
    } catch {
      return null;
    }
  }

  /** The view for one caller (allowedActions are the viewer's own). */
  async view(c: ConsultRequest, viewer: ConsultActor): Promise<ConsultView> {
    return consultView(c, await this.patientHeader(c.patientId), viewer, new Date(), await this.#aiState(c));
  }

  /**
   * Without a stored severity, the attached studies say whether the AI is still at work, refused
   * them (not a frontal chest X-ray) or failed: so the queue never shows "pending" for a result that
   * will not come. One point read per attached study, only while no severity is stored.
   */
  async #aiState(c: ConsultRequest): Promise<ConsultAiState> {
    const stored = storedAiState(c);
    if (stored !== 'pending') return stored;
    const studies = imagingStudyModel(this.consults.db);
    const found = await Promise.all(c.imagingStudyIds.map((id) => studies.findOne({ _id: id }, { patientId: 1, 'triage.state': 1 }).lean()));
    return aiStateOf(found.filter((s) => s !== null && s.patientId === c.patientId).map((s) => s?.triage.state ?? 'queued'));
  }

  async create(caller: Caller, input: CreateConsultInput, ctx: RequestContext): Promise<ConsultView> {
    if (caller.role !== 'referring_doctor') throw new ForbiddenError('Only a referring doctor requests a consult');
    let decision;
    try {
      decision = await this.records.checkAccess(caller, input.patientId, 'write');
    } catch (err) {
      this.logger.warn({ err }, 'consults: record access check failed');
      throw new ServiceUnavailableError('The patient record service cannot confirm your access to this patient right now; nothing was saved');
    }
    const actor = await this.access.actor(caller);
    const now = new Date();
    const id = randomUUID();
    if (!decision.allow || decision.basis !== 'care-team') {
      // Break-glass or another consult cannot be turned into a new consult (access never extends itself).
      const reason = decision.allow ? `only the patient's care team requests a consult (your access is ${decision.basis})` : decision.reason;
      await this.access.record(caller, { _id: id, patientId: input.patientId }, 'C', false, `request consult refused: ${reason}`, ctx, 'access-denied');
      throw new ForbiddenError(`You may not request a consult for this patient (${reason})`);
    }
    if ((await this.records.consultSharing(input.patientId)) !== 'permit') {
      await this.access.record(
        caller,
        { _id: id, patientId: input.patientId },
        'C',
        false,
        "request consult refused: the patient's Consent does not permit sharing for consultation",
        ctx,
        'access-denied',
      );
      throw new ConflictError(
        "The patient's Consent does not permit sharing the record for consultation; record the patient's Consent (FHIR Consent, purpose TREAT) first",
        'consent_required',
      );
    }
    const submit = input.submit;
    const doc: ConsultRequest = {
      _id: id,
      status: submit ? 'requested' : 'draft',
      patientId: input.patientId,
      reason: input.reason,
      clinicalQuestion: input.clinicalQuestion,
      urgency: input.urgency,
      requestedSpecialty: input.requestedSpecialty,
      sharedSections: input.sharedSections,
      imagingStudyIds: input.imagingStudyIds,
      preferredTime: input.preferredTime ? new Date(input.preferredTime) : null,
      scheduledFor: null,
      requesterId: caller.userId,
      requesterFacilityId: caller.facilityId,
      assignedSpecialistId: null,
      participants: [participant(actor, 'requester', now)],
      stateTimes: submit ? { draft: now, requested: now } : { draft: now },
      requestedAt: submit ? now : null,
      slaDeadline: submit ? slaDeadline(input.urgency, now) : null,
      overdueNotifiedAt: null,
      ...(await this.#attachedTriage(input.patientId, input.imagingStudyIds)),
      declineReason: null,
      cancelReason: null,
      closedAt: null,
      createdAt: now,
      updatedAt: now,
    };
    await this.consults.create(doc);
    const stored = await this.access.load(id);
    await this.access.record(caller, stored, 'C', true, submit ? 'consult requested' : 'consult draft created', ctx);
    if (submit) await this.notifier.requested(stored);
    return this.view(stored, actor);
  }

  /**
   * The highest triage priority among the attached studies already triaged, and that study's flag.
   * X-rays are usually uploaded (and triaged) before the request is created, so the
   * triage.completed event came before the consult existed; later results still raise it through
   * the domain-event listener.
   */
  async #attachedTriage(patientId: string, studyIds: readonly string[]): Promise<Pick<ConsultRequest, 'aiFlagSeverity' | 'aiFlag'>> {
    if (studyIds.length === 0) return { aiFlagSeverity: null, aiFlag: null };
    const studies = await imagingStudyModel(this.consults.db)
      .find({ _id: { $in: [...studyIds] }, patientId, 'triage.state': 'done' }, { maxScore: 1, 'triage.findings': 1 })
      .lean();
    const top = studies.reduce<(typeof studies)[number] | null>((best, s) => (!best || s.maxScore > best.maxScore ? s : best), null);
    if (!top) return { aiFlagSeverity: null, aiFlag: null };
    return { aiFlagSeverity: Math.max(0, Math.min(1, top.maxScore)), aiFlag: strongestFlag(top.triage.findings ?? []) };
  }

  /**
   * The caller's consults. Clinical content (patient, reason, question) only where the record's rules
   * let the caller see it now; older or Consent-denied ones are listed without it. One audit entry per
   * consult whose content is shown.
   */
  async listMine(caller: Caller, ctx: RequestContext): Promise<ConsultView[]> {
    const list = await this.consults.find({ 'participants.userId': caller.userId }).sort({ updatedAt: -1 }).limit(200).lean<ConsultRequest[]>();
    const actor = await this.access.actor(caller);
    const out: ConsultView[] = [];
    let shown = 0;
    for (const c of list) {
      if ((await this.access.contentVisible(caller, c)).ok) {
        out.push(await this.view(c, actor));
        await this.access.record(caller, c, 'R', true, 'consult listed (own consults)', ctx);
        shown++;
      } else out.push(redactedView(c, actor));
    }
    await this.access.recordListing(caller, `own consults listed (${list.length}, ${shown} with clinical content)`, ctx);
    return out;
  }

  /**
   * Requested consults a central-hospital clinician could take: only their own specialty, only
   * patients whose Consent permits sharing. Administrators see no clinical content: 403. Every
   * consult shown is audited with its patient.
   */
  async queue(caller: Caller, specialty: string | undefined, ctx: RequestContext): Promise<ConsultQueueItem[]> {
    const actor = await this.access.actor(caller);
    if (actor.facilityTier !== 'central' || !['specialist', 'radiologist'].includes(actor.role)) {
      await this.access.recordListing(caller, 'consult queue refused: not a central-hospital specialist', ctx, false);
      throw new ForbiddenError(
        caller.role === 'admin'
          ? 'The consult queue holds clinical content; the admin role sees none'
          : 'The consult queue is for central-hospital specialists',
      );
    }
    const list = await this.consults.find({ status: 'requested' }).limit(1000).lean<ConsultRequest[]>();
    const wanted = specialty?.trim().toLowerCase();
    const now = Date.now();
    const mine = list.filter((c) => isCandidateSpecialist(actor, c.requestedSpecialty) && (!wanted || c.requestedSpecialty.trim().toLowerCase() === wanted));
    const consenting: ConsultRequest[] = [];
    for (const c of mine) if ((await this.records.consultSharing(c.patientId)) === 'permit') consenting.push(c);
    const selected = consenting
      .map((c) => ({ c, key: { urgency: c.urgency, aiFlagSeverity: c.aiFlagSeverity ?? null, requestedAt: new Date(c.requestedAt ?? c.createdAt) } }))
      .sort((a, b) => compareQueue(a.key, b.key))
      .slice(0, 200);
    for (const { c } of selected) await this.access.record(caller, c, 'R', true, 'consult shown in the queue', ctx);
    await this.access.recordListing(caller, `consult queue viewed (${selected.length} requests)`, ctx);
    return Promise.all(
      selected.map(async ({ c, key }) => ({ ...(await this.view(c, actor)), waitingMinutes: Math.floor((now - key.requestedAt.getTime()) / 60000) })),
    );
  }

  async get(caller: Caller, id: string, ctx: RequestContext): Promise<ConsultView> {
    const { consult, actor } = await this.access.requireViewer(caller, id, ctx, 'read consult');
    await this.access.record(caller, consult, 'R', true, 'consult read', ctx);
    return this.view(consult, actor);
  }

  /** Applies one state-machine action (the report action goes through ConsultReports, which signs first). */
  async transition(caller: Caller, id: string, action: Exclude<ConsultAction, 'report'>, input: TransitionInput, ctx: RequestContext): Promise<ConsultView> {
    const consult = await this.access.load(id);
    const actor = await this.access.actor(caller);
    const mayKnow = isParticipant(consult, caller.userId) || isCandidateSpecialist(actor, consult.requestedSpecialty);
    if (!mayKnow) return this.access.deny(caller, consult, `${action} consult: not a participant of this consult`, ctx);
    if (!isParticipant(consult, caller.userId) && (await this.records.consultSharing(consult.patientId)) !== 'permit') {
      return this.access.deny(caller, consult, `${action} consult: the patient's Consent does not permit sharing for consultation`, ctx);
    }
    if (action === 'schedule' && !input.scheduledFor) throw new InvalidInputError('scheduledFor: required to schedule a consult', ['scheduledFor']);
    const updated = await this.applyTransition(caller, actor, consult, action, ctx, (set, push) => {
      const now = new Date();
      switch (action) {
        case 'submit':
          set.requestedAt = now;
          set.slaDeadline = slaDeadline(consult.urgency, now);
          break;
        case 'accept':
          set.assignedSpecialistId = caller.userId;
          if (!isParticipant(consult, caller.userId)) push.push(participant(actor, actor.role === 'radiologist' ? 'radiologist' : 'specialist', now, true));
          break;
        case 'decline':
          set.declineReason = input.reason ?? null;
          break;
        case 'schedule':
          set.scheduledFor = new Date(input.scheduledFor ?? now);
          break;
        case 'cancel':
          set.cancelReason = input.reason ?? null;
          break;
        case 'close':
          set.closedAt = now;
          break;
        default:
          break;
      }
    });
    return this.view(updated, actor);
  }

  /**
   * Decides and applies a transition with the current status as precondition (optimistic
   * concurrency: a concurrent change makes this one fail with 409, never both succeed).
   */
  async applyTransition(
    caller: Caller,
    actor: ConsultActor,
    consult: ConsultRequest,
    action: ConsultAction,
    ctx: RequestContext,
    mutate: (set: Record<string, unknown>, push: { push: (p: ConsultParticipant) => void }) => void = () => undefined,
  ): Promise<ConsultRequest> {
    const decision = decideTransition(action, actor, {
      status: consult.status,
      requesterId: consult.requesterId,
      requestedSpecialty: consult.requestedSpecialty,
      assignedSpecialistId: consult.assignedSpecialistId,
    });
    if (!decision.ok) {
      await this.access.record(caller, consult, 'U', false, decision.message, ctx, decision.kind === 'forbidden' ? 'access-denied' : 'consult');
      throw decision.kind === 'conflict' ? new ConflictError(decision.message, 'invalid_transition') : new ForbiddenError(decision.message);
    }
    const now = new Date();
    const set: Record<string, unknown> = { status: decision.to, [`stateTimes.${decision.to}`]: now };
    const added: ConsultParticipant[] = [];
    mutate(set, { push: (p) => added.push(p) });
    if (added.length) set.participants = [...consult.participants, ...added];
    const updated = await this.consults
      .findOneAndUpdate({ _id: consult._id, status: consult.status, updatedAt: consult.updatedAt }, { $set: set }, { returnDocument: 'after' })
      .lean<ConsultRequest>();
    if (!updated) {
      const now2 = await this.access.load(consult._id);
      await this.access.record(caller, consult, 'U', false, `${action} lost a race: consult is now ${now2.status}`, ctx);
      throw new ConflictError(`Cannot ${action} this consult: it changed meanwhile and is now ${now2.status}`, 'invalid_transition');
    }
    await this.access.record(caller, updated, 'U', true, `consult ${action}: ${decision.from} → ${decision.to}`, ctx);
    this.notifier.status(updated, caller.userId);
    if (TERMINAL_STATUSES.includes(updated.status)) this.events.emit('consult.ended', { consultId: updated._id, status: updated.status });
    if (action === 'submit') await this.notifier.requested(updated);
    if (decision.from === 'requested' && action !== 'submit') await this.notifier.queueChanged(updated, decision.to, caller.userId);
    return updated;
  }

  /** The requester or the assigned specialist adds a radiologist or another clinician. */
  async invite(caller: Caller, id: string, input: InviteInput, ctx: RequestContext): Promise<ConsultView> {
    const { consult, actor } = await this.access.requireParticipant(caller, id, ctx, 'invite to consult');
    if (caller.userId !== consult.requesterId && caller.userId !== consult.assignedSpecialistId) {
      return this.access.deny(caller, consult, 'invite to consult: only the requester or the assigned specialist invites', ctx);
    }
    if (consult.status === 'draft' || !OPEN_STATUSES.includes(consult.status)) {
      throw new ConflictError(`Cannot invite to a consult that is ${consult.status}`, 'invalid_transition');
    }
    const user = await this.access.user(input.userId);
    if (!user || !user.active) throw new InvalidInputError(`userId: no active user ${input.userId}`, ['userId']);
    if (user.role === 'admin') throw new InvalidInputError('userId: administrators do not take part in consults', ['userId']);
    if (isParticipant(consult, user._id)) throw new ConflictError('This user already takes part in the consult');
    const role = input.role ?? (user.role === 'radiologist' ? 'radiologist' : 'invited');
    const p: ConsultParticipant = { userId: user._id, role, facilityId: user.facilityId, displayName: user.displayName, admitted: false, addedAt: new Date() };
    const updated = await this.consults
      .findOneAndUpdate(
        { _id: consult._id, updatedAt: consult.updatedAt },
        { $set: { participants: [...consult.participants, p] } },
        { returnDocument: 'after' },
      )
      .lean<ConsultRequest>();
    if (!updated) throw new ConflictError('The consult changed meanwhile; try again');
    await this.access.record(caller, updated, 'U', true, `participant invited: ${user._id} as ${role}`, ctx);
    this.notifier.status(updated, caller.userId);
    return this.view(updated, actor);
  }

  /** Records that the host admitted a participant (kept for reconnects and for the SFU's admission). */
  async setAdmitted(consultId: string, userId: string): Promise<ConsultRequest | null> {
    for (let attempt = 0; attempt < 5; attempt++) {
      const c = await this.consults.findById(consultId).lean<ConsultRequest>();
      if (!c || !isParticipant(c, userId)) return null;
      if (c.participants.find((p) => p.userId === userId)?.admitted) return c;
      const participants = c.participants.map((p) => (p.userId === userId ? { ...p, admitted: true } : p));
      const updated = await this.consults
        .findOneAndUpdate({ _id: consultId, updatedAt: c.updatedAt }, { $set: { participants } }, { returnDocument: 'after' })
        .lean<ConsultRequest>();
      if (updated) return updated;
    }
    throw new ConflictError('The consult is changing too fast; try again');
  }
}

function participant(actor: ConsultActor, role: ConsultParticipant['role'], at: Date, admitted = false): ConsultParticipant {
  return { userId: actor.userId, role, facilityId: actor.facilityId, displayName: actor.displayName, admitted, addedAt: at };
}
