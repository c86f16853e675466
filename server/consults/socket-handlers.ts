/**
 * socket.io handlers of the consult room: join (→ room or waiting room), admit (host only), leave,
 * chat. Each validates its payload, calls the room's rules (consult-room-service.ts) and returns;
 * the socket's RealtimeHandlers ack the result or the refusal and count strikes. Every event first
 * re-checks the account, in arrival order.
 */
import type { UserRole } from '../../models/user';
import type { AccessTokens } from '../auth/tokens';
import { UnauthorizedError } from '../platform/errors';
import type { Caller, RequestContext } from '../platform/request-context';
import type { Logger } from '../observability/logger';
import type { SocketFeature } from '../realtime/realtime';
import type { ConsultRoomService } from './consult-room-service';
import { admitPayload, joinPayload, socketMessagePayload } from './schemas';

/** How often an idle socket's account is re-checked (with the ≤ 2 s account cache: revocation ≤ 5 s). */
export const SOCKET_ACCOUNT_RECHECK_MS = 2500;

interface Deps {
  tokens: AccessTokens;
  room: ConsultRoomService;
  logger: Logger;
}

export function consultSocketFeature(deps: Deps): SocketFeature {
  return (socket, handlers) => {
    const caller: Caller = { userId: socket.data.userId, role: socket.data.role as UserRole, facilityId: socket.data.facilityId };
    const ctx: RequestContext = { requestId: `socket:${socket.id}`, ip: socket.handshake.address, caller };
    /** The consult rooms this socket asked to join, left on disconnect (leaving one it never entered changes nothing). */
    const joined = new Set<string>();
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
        if (await deps.room.mayStay(caller, ctx, consultId)) joined.add(consultId);
        else await socket.leave(room);
      }
    };

    // Every event: the account must still be as the token says (deactivated, role changed → told and closed).
    const consult = handlers.checked(async () => {
      if (!(await stillCurrent())) throw new UnauthorizedError('Session ended; sign in again');
    });

    consult.on('consult:join', joinPayload, async ({ consultId }) => {
      joined.add(consultId);
      const result = await deps.room.join(caller, ctx, socket.id, consultId);
      // Gone while joining: the disconnect's leave ran before the entry was written (a shared entry would outlive it).
      if (socket.disconnected) await deps.room.leave(caller, socket.id, consultId);
      return result;
    });
    consult.on('consult:admit', admitPayload, async ({ consultId, userId }) => {
      await deps.room.admit(caller, ctx, consultId, userId);
      return {};
    });
    consult.on('consult:leave', joinPayload, async ({ consultId }) => {
      joined.delete(consultId);
      await deps.room.leave(caller, socket.id, consultId);
      return {};
    });
    consult.on('consult:message', socketMessagePayload, async ({ consultId, text }) => ({
      message: await deps.room.post(caller, ctx, socket.id, consultId, text),
    }));

    socket.on('disconnect', () => {
      for (const id of [...joined]) {
        joined.delete(id);
        // Presence may be in Redis: a failure is logged; a dead process's entries expire anyway (heartbeat).
        deps.room
          .leave(caller, socket.id, id)
          .catch((err: unknown) => deps.logger.warn({ err, consultId: id }, 'consults: leaving the room on disconnect failed'));
      }
    });
  };
}
