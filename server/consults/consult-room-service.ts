/**
 * The rules of the live consult room, for the socket handlers to call: who enters at once and who
 * waits (consult-room.ts `entersWithoutWaiting`), admitting (the host only), presence and the
 * waiting room, leaving, chatting in the room. A socket is named by its id; joining and leaving its
 * socket.io room goes through the server, so it works the same for any socket of this process.
 */
import type { ConsultJoinResult } from '../../contracts/consult-events';
import type { ConsultMessageView } from '../../contracts/consult-api';
import { rooms } from '../../contracts/events';
import type { ConsultRequest } from '../../models/consult-request';
import type { PatientRecords } from '../emr/records-api';
import { ConflictError, ForbiddenError } from '../platform/errors';
import type { Caller, RequestContext } from '../platform/request-context';
import type { RealtimeServer } from '../realtime/realtime';
import { isParticipant, type ConsultAccess } from './access';
import type { ConsultChat } from './consult-chat';
import { entersWithoutWaiting, type ConsultRooms } from './consult-room';
import type { ConsultService } from './consult-service';
import { TERMINAL_STATUSES } from './state-machine';

export interface ConsultRoomDeps {
  io: () => RealtimeServer;
  access: ConsultAccess;
  service: ConsultService;
  chat: ConsultChat;
  records: PatientRecords;
  rooms: ConsultRooms;
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
    const room = this.deps.rooms.get(consultId);
    room.remove(socketId);
    const presence = { socketId, userId: caller.userId, displayName: actor.displayName, role: me?.role ?? 'invited' };
    const io = this.deps.io();
    if (admitted) {
      const firstSocket = !room.userPresent(caller.userId);
      room.admit(presence);
      io.in(socketId).socketsJoin(rooms.consult(consultId));
      if (firstSocket)
        io.to(rooms.consult(consultId))
          .except(socketId)
          .emit('consult:participant-joined', {
            consultId,
            participant: { userId: presence.userId, displayName: presence.displayName, role: presence.role },
          });
      if (host && room.waiting.size) this.#notifyHost(consult);
    } else {
      room.waiting.add(presence);
      this.#notifyHost(consult);
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
    return { admitted, host, room: room.state(consult), summary };
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
    const room = this.deps.rooms.get(consultId);
    const moving = room.waiting.takeUser(userId);
    const io = this.deps.io();
    for (const p of moving) {
      room.admit(p);
      io.in(p.socketId).socketsJoin(rooms.consult(consultId));
    }
    const state = room.state(updated);
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
  leave(caller: Caller, socketId: string, consultId: string): void {
    const io = this.deps.io();
    io.in(socketId).socketsLeave(rooms.consult(consultId));
    const room = this.deps.rooms.peek(consultId);
    if (!room) return;
    const wasPresent = room.remove(socketId);
    if (wasPresent && !room.userPresent(caller.userId)) io.to(rooms.consult(consultId)).emit('consult:participant-left', { consultId, userId: caller.userId });
    this.deps.rooms.dropIfEmpty(consultId);
  }

  /** A chat message from a socket present in the room (the waiting room cannot chat here). */
  async post(caller: Caller, ctx: RequestContext, socketId: string, consultId: string, text: string): Promise<ConsultMessageView> {
    const room = this.deps.rooms.peek(consultId);
    if (!room?.isPresent(socketId)) throw new ForbiddenError('Join the consult room (and be admitted) before chatting here; or post over HTTP');
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

  #notifyHost(c: ConsultRequest): void {
    const room = this.deps.rooms.get(c._id);
    if (c.assignedSpecialistId)
      this.deps.io().to(rooms.user(c.assignedSpecialistId)).emit('consult:waiting', { consultId: c._id, waiting: room.waiting.list() });
  }
}
