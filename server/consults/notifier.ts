/**
 * Everything the consult feature pushes over socket.io goes through here (one place for room choice).
 * Pushes go to several users at once, so they carry no ConsultView (whose allowedActions belong to one
 * caller): clients refetch the consult over HTTP when told it changed.
 */
import type { ConsultMessageView, ConsultStatus } from '../../contracts/consult-api';
import type { ConsultStatusEvent, RecordUpdatedEvent, TriageUpdatedEvent } from '../../contracts/consult-events';
import { rooms } from '../../contracts/events';
import type { ConsultRequest } from '../../models/consult-request';
import type { Realtime } from '../realtime/realtime';

type Audience = Pick<ConsultRequest, '_id' | 'participants'>;

export class ConsultNotifier {
  /**
   * `candidates(specialty)`: the users who may see a request of that specialty in the queue (central
   * clinicians of the specialty). Queue events go to them only, never to a whole facility (admins,
   * other specialties).
   */
  constructor(
    private readonly realtime: Realtime,
    private readonly candidates: (requestedSpecialty: string) => Promise<string[]>,
  ) {}

  /** The consult room plus each participant's own room (socket.io sends once per socket). */
  #parties(c: Audience) {
    return this.realtime.io.to([rooms.consult(c._id), ...c.participants.map((p) => rooms.user(p.userId))]);
  }

  async #queueAudience(c: Pick<ConsultRequest, 'requestedSpecialty'>, extra: string[] = []) {
    const ids = await this.candidates(c.requestedSpecialty);
    const to = [...ids.map(rooms.user), ...extra];
    return to.length ? this.realtime.io.to(to) : null;
  }

  async requested(c: ConsultRequest): Promise<void> {
    (await this.#queueAudience(c))?.emit('consult:requested', {
      consultId: c._id,
      patientId: c.patientId,
      urgency: c.urgency,
      requestedSpecialty: c.requestedSpecialty,
      requesterFacilityId: c.requesterFacilityId,
      slaDeadline: c.slaDeadline ? new Date(c.slaDeadline).toISOString() : null,
    });
  }

  status(c: ConsultRequest, byUserId: string | null): void {
    const e: ConsultStatusEvent = { consultId: c._id, patientId: c.patientId, status: c.status, byUserId, at: new Date().toISOString() };
    const to = this.#parties(c);
    to.emit('consult:status', e);
    if (c.status === 'accepted' && c.assignedSpecialistId) to.emit('consult:accepted', { ...e, specialistId: c.assignedSpecialistId });
    if (c.status === 'scheduled' && c.scheduledFor) to.emit('consult:scheduled', { ...e, scheduledFor: new Date(c.scheduledFor).toISOString() });
    if (c.status === 'in_progress') to.emit('consult:started', e);
  }

  /** Status change of a request still in the central queue (taken, declined, cancelled, expired): queues refresh. */
  async queueChanged(c: ConsultRequest, status: ConsultStatus, byUserId: string | null): Promise<void> {
    (await this.#queueAudience(c))?.emit('consult:status', { consultId: c._id, patientId: c.patientId, status, byUserId, at: new Date().toISOString() });
  }

  message(c: Audience, m: ConsultMessageView): void {
    this.#parties(c).emit('consult:message', m);
  }

  recordUpdated(c: Audience, e: RecordUpdatedEvent): void {
    this.#parties(c).emit('record:updated', e);
  }

  triage(c: Audience, e: TriageUpdatedEvent): void {
    this.#parties(c).emit('triage:updated', e);
  }

  reportReady(c: ConsultRequest, version: number, status: 'final' | 'amended'): void {
    this.#parties(c).emit('consult:report-ready', { consultId: c._id, patientId: c.patientId, version, status });
  }

  async overdue(c: ConsultRequest): Promise<void> {
    const e = { consultId: c._id, patientId: c.patientId, urgency: c.urgency, slaDeadline: c.slaDeadline ? new Date(c.slaDeadline).toISOString() : '' };
    (await this.#queueAudience(c, [rooms.user(c.requesterId)]))?.emit('consult:overdue', e);
  }
}
