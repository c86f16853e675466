/**
 * The rules of the live consult room, for the socket handlers to call: who enters at once and who
 * waits (consult-room.ts `entersWithoutWaiting`), admitting (the host only), presence and the
 * waiting room, leaving, chatting in the room. A socket is named by its id; joining and leaving its
 * socket.io room goes through the server (`io.in(socketId)`), and presence through a `RoomPresence`,
 * so with several processes (Redis adapter and presence in Redis) the host on one process admits a
 * guest whose socket is on another.
 */
import type { ConsultJoinResult } from '../../contracts/consult-events';
import type { ConsultMessageView } from '../../contracts/consult-api';
import { rooms } from '../../contracts/events';
import type { ConsultRequest } from '../../models/consult-request';
import type { PatientRecords } from '../emr/records-api';
import { ConflictError, ForbiddenError } from '../platform/errors';
import type { Caller, RequestContext } from '../platform/request-context';
import type { RoomPresence } from '../platform/room-presence';
import type { RealtimeServer } from '../realtime/realtime';
import { isParticipant, type ConsultAccess } from './access';
import type { ConsultChat } from './consult-chat';
import { consultRoomState, entersWithoutWaiting, uniqueUsers } from './consult-room';
import type { ConsultService } from './consult-service';
import { TERMINAL_STATUSES } from './state-machine';

export interface ConsultRoomDeps {
  io: () => RealtimeServer;
  access: ConsultAccess;
  service: ConsultService;
  chat: ConsultChat;
  records: PatientRecords;
  /** Who is in each consult room and who waits (keyed by consult id). */
  presence: RoomPresence;
}

export class ConsultRoomService {
  constructor(private readonly deps: ConsultRoomDeps) {}

  /**
   * A participant's socket joins the room: the host, the requester and anyone admitted once enter
   * at once (and get the shared EMR summary when their record access allows it); others wait for
   * the host, who is told. Audited either way.
   */
  async join(caller: Caller, ctx: RequestContext, socketId: string, consultId: string): Promise<ConsultJoinResult> {
    const { consult, actor } = await this.deps.access.requireParticipant(caller, consultId, ctx, 'join consult room');
    if (TERMINAL_STATUSES.includes(consult.status)) throw new ConflictError(`Cannot join a consult that is ${consult.status}`);
    const me = consult.participants.find((p) => p.userId === caller.userId);
    const host = consult.assignedSpecialistId === caller.userId;
    const admitted = me !== undefined && entersWithoutWaiting(consult, caller.userId);
    const presence = this.deps.presence;
    const entry = { socketId, userId: caller.userId, displayName: actor.displayName, role: me?.role ?? 'invited' };
    const io = this.deps.io();
    if (admitted) {
      const { firstOfUser } = await presence.enter(consultId, entry);
      io.in(socketId).socketsJoin(rooms.consult(consultId));
      if (firstOfUser)
        io.to(rooms.consult(consultId))
          .except(socketId)
          .emit('consult:participant-joined', {
            consultId,
            participant: { userId: entry.userId, displayName: entry.displayName, role: entry.role },
          });
      if (host) await this.#notifyHost(consult, { onlyIfWaiting: true });
    } else {
      await presence.wait(consultId, entry);
      await this.#notifyHost(consult);
    }
    await this.deps.access.record(caller, consult, 'R', true, admitted ? 'joined consult room' : 'entered consult waiting room', ctx);
    let summary = null;
    if (admitted) {
      try {
        summary = await this.deps.records.summary(caller, consult.patientId, ctx);
      } catch {
        summary = null; // no record access or the EMR is away: the room works without it
      }
    }
    return { admitted, host, room: consultRoomState(consult, await presence.snapshot(consultId)), summary };
  }

  /** The host admits a participant: kept in the consult (no waiting again), their waiting sockets move into the room. */
  async admit(caller: Caller, ctx: RequestContext, consultId: string, userId: string): Promise<void> {
    const consult = await this.deps.access.load(consultId);
    if (consult.assignedSpecialistId !== caller.userId) {
      await this.deps.access.record(caller, consult, 'U', false, 'admit to consult room: only the host admits', ctx, 'access-denied');
      throw new ForbiddenError('Only the host (the assigned specialist) admits people');
    }
    if (!isParticipant(consult, userId)) throw new ConflictError('That person does not take part in this consult; invite them first');
    const updated = (await this.deps.service.setAdmitted(consultId, userId)) ?? consult;
    // The waiting sockets may be on another process: socket.io's adapter moves and tells them there.
    const moving = await this.deps.presence.admitUser(consultId, userId);
    const io = this.deps.io();
    for (const p of moving) io.in(p.socketId).socketsJoin(rooms.consult(consultId));
    const state = consultRoomState(updated, await this.deps.presence.snapshot(consultId));
    for (const p of moving) io.to(p.socketId).emit('consult:admitted', { consultId, room: state });
    if (moving[0])
      io.to(rooms.consult(consultId))
        .except(moving.map((p) => p.socketId))
        .emit('consult:participant-joined', {
          consultId,
          participant: { userId: moving[0].userId, displayName: moving[0].displayName, role: moving[0].role },
        });
    await this.deps.access.record(caller, updated, 'U', true, `admitted ${userId} to the consult room`, ctx);
  }

  /** A socket leaves the room (or its waiting room); the others hear of it when the user's last socket went. */
  async leave(caller: Caller, socketId: string, consultId: string): Promise<void> {
    const io = this.deps.io();
    io.in(socketId).socketsLeave(rooms.consult(consultId));
    const { wasPresent, userStillPresent } = await this.deps.presence.remove(consultId, socketId);
    if (wasPresent && !userStillPresent) io.to(rooms.consult(consultId)).emit('consult:participant-left', { consultId, userId: caller.userId });
  }

  /**
   * Takes out of the rooms the sockets of server processes that died without leaving (several
   * processes: their heartbeat ran out) and tells each room, as an orderly leave would: the others
   * hear `consult:participant-left` when the user's last socket went, the host the new waiting list.
   * Each departure is reported by one process only. Returns how many sockets were taken out.
   */
  async sweepDeparted(): Promise<number> {
    const departures = await this.deps.presence.departed();
    const io = this.deps.io();
    const waitingChanged = new Set<string>();
    for (const d of departures) {
      if (!d.wasPresent) waitingChanged.add(d.room);
      else if (!d.userStillPresent) io.to(rooms.consult(d.room)).emit('consult:participant-left', { consultId: d.room, userId: d.entry.userId });
    }
    for (const consultId of waitingChanged) {
      const consult = await this.deps.access.load(consultId).catch(() => null);
      if (consult) await this.#notifyHost(consult);
    }
    return departures.length;
  }

  /** A chat message from a socket present in the room (the waiting room cannot chat here). */
  async post(caller: Caller, ctx: RequestContext, socketId: string, consultId: string, text: string): Promise<ConsultMessageView> {
    if (!(await this.deps.presence.isPresent(consultId, socketId)))
      throw new ForbiddenError('Join the consult room (and be admitted) before chatting here; or post over HTTP');
    const { consult, actor } = await this.deps.access.requireParticipant(caller, consultId, ctx, 'post consult message');
    return this.deps.chat.postAs(caller, actor.displayName, consult, text, undefined, ctx);
  }

  /**
   * Whether a socket may stay in a consult room that connection-state recovery restored without a
   * `consult:join`: still a participant, the consult open, and the caller the host or admitted.
   */
  async mayStay(caller: Caller, ctx: RequestContext, consultId: string): Promise<boolean> {
    try {
      const { consult } = await this.deps.access.requireParticipant(caller, consultId, ctx, 'restore consult room');
      const me = consult.participants.find((p) => p.userId === caller.userId);
      return !TERMINAL_STATUSES.includes(consult.status) && (consult.assignedSpecialistId === caller.userId || me?.admitted === true);
    } catch {
      return false;
    }
  }

  /** Tells the host (all their sockets, on any process) who waits now. */
  async #notifyHost(c: ConsultRequest, opts: { onlyIfWaiting?: boolean } = {}): Promise<void> {
    if (!c.assignedSpecialistId) return;
    const { waiting } = await this.deps.presence.snapshot(c._id);
    if (opts.onlyIfWaiting && waiting.length === 0) return;
    this.deps
      .io()
      .to(rooms.user(c.assignedSpecialistId))
      .emit('consult:waiting', { consultId: c._id, waiting: uniqueUsers(waiting) });
  }
}
