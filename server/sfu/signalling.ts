import type { z } from 'zod';
import type { Logger } from '../observability/logger';
import type { RealtimeSocket } from '../realtime/realtime';
import type { CallNotifier, CallPeer } from './call-peer';
import { CallError, type ConsultCallRoom } from './consult-call-room';
import { sfuSchemas, type SfuEventName } from './schemas';
import type { SfuService } from './sfu-service';

export interface SfuSignallingOptions {
  /** Invalid payloads / failing requests tolerated per socket before it is disconnected. */
  strikeBudget?: number;
  /** How long a peer whose socket dropped stays in the call, waiting for it to rejoin. */
  reconnectGraceMs: number;
}

/**
 * The sfu:* socket.io events: validates every payload, maps it onto the caller's session in a
 * ConsultCallRoom, acknowledges `{ok: true, ...}` or `{ok: false, error}`. One call per socket.
 */
export class SfuSignalling {
  readonly #service: SfuService | null;
  readonly #unavailable: string;
  readonly #logger: Logger;
  readonly #options: Required<SfuSignallingOptions>;
  readonly #graceTimers = new Set<NodeJS.Timeout>();
  /** Which socket handler currently owns each session (a resumed session moves to the new socket). */
  readonly #owners = new WeakMap<CallPeer, object>();

  /** `service` null: live video is unavailable (e.g. no media worker); joins are refused with that reason. */
  constructor(service: SfuService | null, logger: Logger, options: SfuSignallingOptions & { unavailableReason?: string }) {
    this.#service = service;
    this.#unavailable = options.unavailableReason ?? 'live video is unavailable on this server';
    this.#logger = logger.child({ part: 'sfu-signalling' });
    this.#options = { strikeBudget: 5, reconnectGraceMs: options.reconnectGraceMs };
  }

  /** The realtime SocketFeature. */
  readonly attach = (socket: RealtimeSocket): void => {
    const userId = socket.data.userId;
    let session: { room: ConsultCallRoom; peer: CallPeer } | null = null;
    let strikes = 0;
    let kicked = false;
    const me = {};
    const notify: CallNotifier = (event, ...args) => {
      (socket.emit as (e: string, ...a: unknown[]) => boolean)(event, ...args);
    };
    const strike = (event: string, why: string) => {
      strikes++;
      this.#logger.warn({ userId, event, why, strikes }, 'bad sfu request');
      if (strikes > this.#options.strikeBudget && !kicked) {
        kicked = true;
        this.#logger.warn({ userId }, 'disconnecting a misbehaving call client');
        leave('removed');
        socket.disconnect(true);
      }
    };
    const current = (): { room: ConsultCallRoom; peer: CallPeer } => {
      if (!session || session.room.closed || session.peer.closed) {
        session = null;
        throw new CallError('not in a call; send sfu:join first');
      }
      return session;
    };
    const leave = (reason: 'left' | 'removed') => {
      if (!session) return;
      session.room.removePeer(session.peer.peerId, reason);
      session = null;
    };

    const handle = <E extends SfuEventName>(event: E, fn: (payload: z.infer<(typeof sfuSchemas)[E]>) => Promise<object> | object) => {
      (socket.on as (e: string, l: (...args: unknown[]) => void) => void)(event, (payload: unknown, ack: unknown) => {
        if (kicked) return;
        if (typeof ack !== 'function') {
          strike(event, 'no acknowledgement callback');
          return;
        }
        const reply = ack as (r: unknown) => void;
        const parsed = sfuSchemas[event].safeParse(payload);
        if (!parsed.success) {
          reply({ ok: false, error: `invalid ${event}: ${parsed.error.issues.map((i) => `${i.path.join('.') || '(payload)'} ${i.message}`).join('; ')}` });
          strike(event, 'invalid payload');
          return;
        }
        Promise.resolve()
          .then(() => fn(parsed.data as z.infer<(typeof sfuSchemas)[E]>))
          .then(
            (result) => reply({ ok: true, ...result }),
            (err: unknown) => {
              if (err instanceof CallError) {
                reply({ ok: false, error: err.message });
                return;
              }
              this.#logger.warn({ err, userId, event }, 'sfu request failed');
              reply({ ok: false, error: `${event} failed` });
              strike(event, 'request threw');
            },
          );
      });
    };

    handle('sfu:join', async ({ consultId }) => {
      if (session) leave('left');
      if (!this.#service) throw new CallError(this.#unavailable);
      const joined = await this.#service.join(userId, consultId, notify);
      if (!socket.connected) {
        joined.room.removePeer(joined.peer.peerId, 'disconnected');
        throw new CallError('disconnected');
      }
      session = { room: joined.room, peer: joined.peer };
      this.#owners.set(joined.peer, me);
      return joined.result;
    });
    handle('sfu:resume-session', async ({ consultId, peerId }) => {
      const room = this.#service?.room(consultId);
      const peer = room?.peer(peerId);
      // Only the same user's own session, still held (within the grace period), can be taken over,
      // and only while the directory still admits them (consult open, account active, record access).
      if (!room || !peer || peer.userId !== userId || peer.closed) throw new CallError('this call session has ended; join again');
      await this.#service?.admit(userId, consultId);
      // eslint-disable-next-line @typescript-eslint/no-unnecessary-condition -- the peer can close during the await above; the narrowing does not see that
      if (peer.closed) throw new CallError('this call session has ended; join again');
      if (session && session.peer !== peer) leave('left');
      const result = room.resume(peer, notify);
      session = { room, peer };
      this.#owners.set(peer, me);
      return result;
    });
    handle('sfu:create-transport', ({ direction }) => {
      const s = current();
      return s.room.createTransport(s.peer, direction);
    });
    handle('sfu:connect-transport', async ({ transportId, dtlsParameters }) => {
      const s = current();
      await s.room.connectTransport(s.peer, transportId, dtlsParameters);
      return {};
    });
    handle('sfu:produce', async (req) => {
      const s = current();
      return { producerId: await s.room.produce(s.peer, req) };
    });
    handle('sfu:close-producer', ({ producerId }) => {
      const s = current();
      s.room.closeProducer(s.peer, producerId);
      return {};
    });
    handle('sfu:consume', ({ producerId, rtpCapabilities }) => {
      const s = current();
      return s.room.consume(s.peer, producerId, rtpCapabilities);
    });
    handle('sfu:pause', async ({ type, id }) => {
      const s = current();
      await s.room.setPaused(s.peer, type, id, true);
      return {};
    });
    handle('sfu:resume', async ({ type, id }) => {
      const s = current();
      await s.room.setPaused(s.peer, type, id, false);
      return {};
    });
    handle('sfu:set-preferred-layers', async ({ consumerId, spatialLayer, temporalLayer }) => {
      const s = current();
      await s.room.setPreferredLayers(s.peer, consumerId, spatialLayer, temporalLayer);
      return {};
    });
    handle('sfu:restart-ice', async ({ transportId }) => {
      const s = current();
      return { iceParameters: await s.room.restartIce(s.peer, transportId) };
    });
    handle('sfu:stats', (stats) => {
      const s = current();
      return s.room.reportStats(s.peer, stats);
    });
    handle('sfu:leave', () => {
      leave('left');
      return {};
    });

    socket.on('disconnect', () => {
      const s = session;
      session = null;
      // Nothing to wait for when the session already moved to a newer socket (re-attached).
      if (!s || kicked || this.#owners.get(s.peer) !== me) return;
      const drop = () => {
        if (this.#owners.get(s.peer) !== me) return; // re-attached meanwhile
        if (s.room.peer(s.peer.peerId) === s.peer) s.room.removePeer(s.peer.peerId, 'disconnected');
      };
      if (this.#options.reconnectGraceMs <= 0) {
        drop();
        return;
      }
      const timer = setTimeout(() => {
        this.#graceTimers.delete(timer);
        drop();
      }, this.#options.reconnectGraceMs);
      timer.unref();
      this.#graceTimers.add(timer);
    });
  };

  close(): void {
    for (const t of this.#graceTimers) clearTimeout(t);
    this.#graceTimers.clear();
  }
}
