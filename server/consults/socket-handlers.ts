/**
 * socket.io handlers of the consult room: join (→ room or waiting room), admit (host only), leave,
 * chat. Every payload is validated; a bad one gets an error ack, and a socket that keeps sending
 * bad payloads is disconnected. Nothing here can throw into socket.io.
 */
import type { z } from 'zod';
import type { ConsultJoinResult } from '../../contracts/consult-events';
import { rooms } from '../../contracts/events';
import type { ConsultRequest } from '../../models/consult-request';
import type { UserRole } from '../../models/user';
import type { PatientRecords } from '../emr/records-api';
import { ConflictError, DomainError, ForbiddenError } from '../platform/errors';
import type { Caller, RequestContext } from '../platform/request-context';
import type { Logger } from '../observability/logger';
import type { AccessTokens } from '../auth/tokens';
import type { RealtimeServer, SocketFeature } from '../realtime/realtime';
import { isParticipant, type ConsultAccess } from './access';
import type { ConsultChat } from './consult-chat';
import { entersWithoutWaiting, type ConsultRooms } from './consult-room';
import type { ConsultService } from './consult-service';
import { admitPayload, joinPayload, socketMessagePayload } from './schemas';
import { TERMINAL_STATUSES } from './state-machine';

/** Bad payloads a socket may send before it is disconnected. */
export const MAX_BAD_PAYLOADS = 10;
/** How often an idle socket's account is re-checked (with the ≤ 2 s account cache: revocation ≤ 5 s). */
export const SOCKET_ACCOUNT_RECHECK_MS = 2500;

interface Deps {
  io: () => RealtimeServer;
  tokens: AccessTokens;
  access: ConsultAccess;
  service: ConsultService;
  chat: ConsultChat;
  records: PatientRecords;
  rooms: ConsultRooms;
  logger: Logger;
}

export function consultSocketFeature(deps: Deps): SocketFeature {
  return (socket) => {
    const caller: Caller = { userId: socket.data.userId, role: socket.data.role as UserRole, facilityId: socket.data.facilityId };
    const ctx: RequestContext = { requestId: `socket:${socket.id}`, ip: socket.handshake.address, caller };
    const joined = new Set<string>();
    let bad = 0;
    const handshakeToken = (socket.handshake.auth as { token?: unknown } | undefined)?.token;
    const sessionVersion = typeof handshakeToken === 'string' ? deps.tokens.sessionVersionOf(handshakeToken) : 0;
    /** The account as it is now (revocation ≤ 2 s across processes): a revoked socket is told and closed. */
    const stillCurrent = async (): Promise<boolean> => {
      const problem = deps.tokens.status ? await deps.tokens.status.problem({ ...caller, sessionVersion }) : null;
      if (!problem) return true;
      socket.emit('session:expired', { message: `${problem}; sign in again` });
      socket.disconnect(true);
      return false;
    };
    // An idle socket is re-checked too, so a change made by another server process closes it within seconds.
    const recheck = setInterval(() => {
      void stillCurrent().catch(() => undefined);
    }, SOCKET_ACCOUNT_RECHECK_MS);
    recheck.unref();
    socket.on('disconnect', () => clearInterval(recheck));
    void stillCurrent()
      .then(async (ok) => {
        // Connection-state recovery restores rooms without a consult:join: re-check each one.
        if (ok && socket.recovered) await recheckRestoredRooms();
      })
      .catch((err: unknown) => deps.logger.error({ err }, 'consults: session check failed'));

    const recheckRestoredRooms = async () => {
      for (const room of [...socket.rooms]) {
        if (!room.startsWith('consult:')) continue;
        const consultId = room.slice('consult:'.length);
        let keep: boolean;
        try {
          const { consult } = await deps.access.requireParticipant(caller, consultId, ctx, 'restore consult room');
          const me = consult.participants.find((p) => p.userId === caller.userId);
          keep = !TERMINAL_STATUSES.includes(consult.status) && (consult.assignedSpecialistId === caller.userId || me?.admitted === true);
        } catch {
          keep = false;
        }
        if (keep) joined.add(consultId);
        else await socket.leave(room);
      }
    };

    /** Wraps a handler: validates, answers exactly once, turns errors into `{ok:false}`. */
    /** Account checks run one after another, so events are still handled in the order they came. */
    let checks: Promise<unknown> = Promise.resolve();

    /** Wraps a handler: re-checks the account, validates, answers exactly once, turns errors into `{ok:false}`. */
    const handle = <S extends z.ZodType, R extends object>(schema: S, fn: (payload: z.infer<S>) => Promise<R>) => {
      return (raw: unknown, maybeAck?: unknown) => {
        const ack = typeof maybeAck === 'function' ? (maybeAck as (r: unknown) => void) : () => undefined;
        const run = () => {
          const parsed = schema.safeParse(raw);
          if (!parsed.success) {
            bad += 1;
            ack({ ok: false, error: `invalid payload: ${parsed.error.issues.map((i) => `${i.path.join('.') || 'payload'}: ${i.message}`).join('; ')}` });
            if (bad >= MAX_BAD_PAYLOADS) {
              deps.logger.warn({ userId: caller.userId }, 'consults: socket disconnected after repeated invalid payloads');
              socket.disconnect(true);
            }
            return;
          }
          fn(parsed.data).then(
            (r) => ack({ ok: true, ...r }),
            (err: unknown) => {
              if (!(err instanceof DomainError)) deps.logger.error({ err }, 'consults: socket handler failed');
              ack({ ok: false, error: err instanceof DomainError ? err.message : 'internal error' });
            },
          );
        };
        // Every event: the account must still be as the token says (deactivated, role changed → told and closed).
        checks = checks.then(stillCurrent).then(
          (ok) => {
            if (ok) run();
          },
          (err: unknown) => {
            deps.logger.error({ err }, 'consults: session check failed');
            ack({ ok: false, error: 'internal error' });
          },
        );
      };
    };

    const leave = (consultId: string) => {
      const room = deps.rooms.peek(consultId);
      joined.delete(consultId);
      void socket.leave(rooms.consult(consultId));
      if (!room) return;
      const wasPresent = room.remove(socket.id);
      if (wasPresent && !room.userPresent(caller.userId))
        deps.io().to(rooms.consult(consultId)).emit('consult:participant-left', { consultId, userId: caller.userId });
      deps.rooms.dropIfEmpty(consultId);
    };

    const notifyHost = (c: ConsultRequest) => {
      const room = deps.rooms.get(c._id);
      if (c.assignedSpecialistId) deps.io().to(rooms.user(c.assignedSpecialistId)).emit('consult:waiting', { consultId: c._id, waiting: room.waiting.list() });
    };

    socket.on(
      'consult:join',
      handle(joinPayload, async ({ consultId }): Promise<ConsultJoinResult> => {
        const { consult, actor } = await deps.access.requireParticipant(caller, consultId, ctx, 'join consult room');
        if (TERMINAL_STATUSES.includes(consult.status)) throw new ConflictError(`Cannot join a consult that is ${consult.status}`);
        const me = consult.participants.find((p) => p.userId === caller.userId);
        const host = consult.assignedSpecialistId === caller.userId;
        const admitted = me !== undefined && entersWithoutWaiting(consult, caller.userId);
        const room = deps.rooms.get(consultId);
        room.remove(socket.id);
        const presence = { socketId: socket.id, userId: caller.userId, displayName: actor.displayName, role: me?.role ?? 'invited' };
        joined.add(consultId);
        if (admitted) {
          const firstSocket = !room.userPresent(caller.userId);
          room.admit(presence);
          await socket.join(rooms.consult(consultId));
          if (firstSocket)
            socket.to(rooms.consult(consultId)).emit('consult:participant-joined', {
              consultId,
              participant: { userId: presence.userId, displayName: presence.displayName, role: presence.role },
            });
          if (host && room.waiting.size) notifyHost(consult);
        } else {
          room.waiting.add(presence);
          notifyHost(consult);
        }
        await deps.access.record(caller, consult, 'R', true, admitted ? 'joined consult room' : 'entered consult waiting room', ctx);
        let summary = null;
        if (admitted) {
          try {
            summary = await deps.records.summary(caller, consult.patientId, ctx);
          } catch {
            summary = null; // no record access or the EMR is away: the room works without it
          }
        }
        return { admitted, host, room: room.state(consult), summary };
      }),
    );

    socket.on(
      'consult:admit',
      handle(admitPayload, async ({ consultId, userId }) => {
        const consult = await deps.access.load(consultId);
        if (consult.assignedSpecialistId !== caller.userId) {
          await deps.access.record(caller, consult, 'U', false, 'admit to consult room: only the host admits', ctx, 'access-denied');
          throw new ForbiddenError('Only the host (the assigned specialist) admits people');
        }
        if (!isParticipant(consult, userId)) throw new ConflictError('That person does not take part in this consult; invite them first');
        const updated = (await deps.service.setAdmitted(consultId, userId)) ?? consult;
        const room = deps.rooms.get(consultId);
        const moving = room.waiting.takeUser(userId);
        const io = deps.io();
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
        await deps.access.record(caller, updated, 'U', true, `admitted ${userId} to the consult room`, ctx);
        return {};
      }),
    );

    socket.on(
      'consult:leave',
      // eslint-disable-next-line @typescript-eslint/require-await -- async so that a throw becomes a rejected promise, as handle() expects
      handle(joinPayload, async ({ consultId }) => {
        leave(consultId);
        return {};
      }),
    );

    socket.on(
      'consult:message',
      handle(socketMessagePayload, async ({ consultId, text }) => {
        const room = deps.rooms.peek(consultId);
        if (!room?.isPresent(socket.id)) throw new ForbiddenError('Join the consult room (and be admitted) before chatting here; or post over HTTP');
        const { consult, actor } = await deps.access.requireParticipant(caller, consultId, ctx, 'post consult message');
        const message = await deps.chat.postAs(caller, actor.displayName, consult, text, undefined, ctx);
        return { message };
      }),
    );

    socket.on('disconnect', () => {
      for (const id of [...joined]) leave(id);
    });
  };
}
