import type { Logger } from '../observability/logger';
import type { RealtimeHandlers } from '../realtime/handlers';
import type { RealtimeSocket } from '../realtime/realtime';
import type { CallNotifier, CallPeer } from './call-peer';
import { CallError, type ConsultCallRoom } from './consult-call-room';
import { sfuSchemas } from './schemas';
import type { SfuService } from './sfu-service';

export interface SfuSignallingOptions {
  /** How long a peer whose socket dropped stays in the call, waiting for it to rejoin. */
  reconnectGraceMs: number;
}

/**
 * mediasoup checks the parameters a client sends (RTP, DTLS) and throws TypeError (or its
 * UnsupportedError) for bad ones: that is the client's fault, refused as `invalid` (a strike), not
 * logged as a server failure.
 */
async function clientParameters<T>(work: () => Promise<T> | T): Promise<T> {
  try {
    return await work();
  } catch (err) {
    if (err instanceof TypeError || (err instanceof Error && err.name === 'UnsupportedError')) throw new CallError(err.message, 'invalid');
    throw err;
  }
}

/**
 * The sfu:* socket.io events, on the socket's RealtimeHandlers (validation, the one ack shape, the
 * one strike budget): each maps a payload onto the caller's session in a ConsultCallRoom. One call
 * per socket.
 */
export class SfuSignalling {
  readonly #service: SfuService | null;
  readonly #unavailable: string;
  readonly #logger: Logger;
  readonly #options: SfuSignallingOptions;
  readonly #graceTimers = new Set<NodeJS.Timeout>();
  /** Which socket handler currently owns each session (a resumed session moves to the new socket). */
  readonly #owners = new WeakMap<CallPeer, object>();

  /** `service` null: live video is unavailable (e.g. no media worker); joins are refused with that reason. */
  constructor(service: SfuService | null, logger: Logger, options: SfuSignallingOptions & { unavailableReason?: string }) {
    this.#service = service;
    this.#unavailable = options.unavailableReason ?? 'live video is unavailable on this server';
    this.#logger = logger.child({ part: 'sfu-signalling' });
    this.#options = { reconnectGraceMs: options.reconnectGraceMs };
  }

  /** The realtime SocketFeature. */
  readonly attach = (socket: RealtimeSocket, handlers: RealtimeHandlers): void => {
    const userId = socket.data.userId;
    let session: { room: ConsultCallRoom; peer: CallPeer } | null = null;
    const me = {};
    const notify: CallNotifier = (event, ...args) => {
      (socket.emit as (e: string, ...a: unknown[]) => boolean)(event, ...args);
    };
    const current = (): { room: ConsultCallRoom; peer: CallPeer } => {
      if (!session || session.room.closed || session.peer.closed) {
        session = null;
        throw new CallError('not in a call; send sfu:join first');
      }
      return session;
    };
    const leave = () => {
      if (!session) return;
      session.room.removePeer(session.peer.peerId, 'left');
      session = null;
    };

    handlers.on('sfu:join', sfuSchemas['sfu:join'], async ({ consultId }) => {
      if (session) leave();
      if (!this.#service) throw new CallError(this.#unavailable, 'unavailable');
      const joined = await this.#service.join(userId, consultId, notify);
      if (!socket.connected) {
        joined.room.removePeer(joined.peer.peerId, 'disconnected');
        throw new CallError('disconnected');
      }
      session = { room: joined.room, peer: joined.peer };
      this.#owners.set(joined.peer, me);
      return joined.result;
    });
    handlers.on('sfu:resume-session', sfuSchemas['sfu:resume-session'], async ({ consultId, peerId }) => {
      const room = this.#service?.room(consultId);
      const peer = room?.peer(peerId);
      // Only the same user's own session, still held (within the grace period), can be taken over,
      // and only while the directory still admits them (consult open, account active, record access).
      if (!room || !peer || peer.userId !== userId || peer.closed) throw new CallError('this call session has ended; join again');
      await this.#service?.admit(userId, consultId);
      // eslint-disable-next-line @typescript-eslint/no-unnecessary-condition -- the peer can close during the await above; the narrowing does not see that
      if (peer.closed) throw new CallError('this call session has ended; join again');
      if (session && session.peer !== peer) leave();
      const result = room.resume(peer, notify);
      session = { room, peer };
      this.#owners.set(peer, me);
      return result;
    });
    handlers.on('sfu:create-transport', sfuSchemas['sfu:create-transport'], ({ direction }) => {
      const s = current();
      return s.room.createTransport(s.peer, direction);
    });
    handlers.on('sfu:connect-transport', sfuSchemas['sfu:connect-transport'], async ({ transportId, dtlsParameters }) => {
      const s = current();
      await clientParameters(() => s.room.connectTransport(s.peer, transportId, dtlsParameters));
      return {};
    });
    handlers.on('sfu:produce', sfuSchemas['sfu:produce'], async (req) => {
      const s = current();
      return { producerId: await clientParameters(() => s.room.produce(s.peer, req)) };
    });
    handlers.on('sfu:close-producer', sfuSchemas['sfu:close-producer'], ({ producerId }) => {
      const s = current();
      s.room.closeProducer(s.peer, producerId);
      return {};
    });
    handlers.on('sfu:consume', sfuSchemas['sfu:consume'], ({ producerId, rtpCapabilities }) => {
      const s = current();
      return clientParameters(() => s.room.consume(s.peer, producerId, rtpCapabilities));
    });
    handlers.on('sfu:pause', sfuSchemas['sfu:pause'], async ({ type, id }) => {
      const s = current();
      await s.room.setPaused(s.peer, type, id, true);
      return {};
    });
    handlers.on('sfu:resume', sfuSchemas['sfu:resume'], async ({ type, id }) => {
      const s = current();
      await s.room.setPaused(s.peer, type, id, false);
      return {};
    });
    handlers.on('sfu:set-preferred-layers', sfuSchemas['sfu:set-preferred-layers'], async ({ consumerId, spatialLayer, temporalLayer }) => {
      const s = current();
      await s.room.setPreferredLayers(s.peer, consumerId, spatialLayer, temporalLayer);
      return {};
    });
    handlers.on('sfu:restart-ice', sfuSchemas['sfu:restart-ice'], async ({ transportId }) => {
      const s = current();
      return { iceParameters: await s.room.restartIce(s.peer, transportId) };
    });
    handlers.on('sfu:stats', sfuSchemas['sfu:stats'], (stats) => {
      const s = current();
      return s.room.reportStats(s.peer, stats);
    });
    handlers.on('sfu:leave', sfuSchemas['sfu:leave'], () => {
      leave();
      return {};
    });

    socket.on('disconnect', () => {
      const s = session;
      session = null;
      // Nothing to wait for when the session already moved to a newer socket (re-attached).
      if (!s || this.#owners.get(s.peer) !== me) return;
      // Disconnected for abuse (out of strikes): removed from the call at once, not held for a rejoin.
      if (handlers.kicked) {
        this.#logger.warn({ userId, consultId: s.room.consultId }, 'call client disconnected for abuse: removed from the call');
        if (s.room.peer(s.peer.peerId) === s.peer) s.room.removePeer(s.peer.peerId, 'removed');
        return;
      }
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
