import type { Server as HttpServer, ServerResponse } from 'node:http';
import { createAdapter } from '@socket.io/redis-adapter';
import { Server, type Socket } from 'socket.io';
import type { ClientToServerEvents, InterServerEvents, ServerToClientEvents, SocketData } from '../../contracts/events';
import { rooms } from '../../contracts/events';
import type { AuditLog } from '../audit/audit-log';
import type { AccessTokens } from '../auth/tokens';
import type { Logger } from '../observability/logger';
import type { SharedState } from '../platform/shared-state';
import { DEFAULT_SOCKET_EVENT_LIMITS, SocketGuard, UserBuckets, type SocketEventLimits } from './event-guard';
import { ackError, RealtimeHandlers } from './handlers';

export type RealtimeServer = Server<ClientToServerEvents, ServerToClientEvents, InterServerEvents, SocketData>;
export type RealtimeSocket = Socket<ClientToServerEvents, ServerToClientEvents, InterServerEvents, SocketData>;

/**
 * A feature that handles socket events registers here; it is called for every authenticated socket
 * with that socket's handlers (`handlers.on(event, schema, fn)`: validation, the one ack shape, the
 * one strike budget).
 */
export type SocketFeature = (socket: RealtimeSocket, handlers: RealtimeHandlers) => void;

export interface RealtimeOptions {
  /** Where abuse disconnects are recorded. */
  audit?: AuditLog;
  limits?: SocketEventLimits;
  /** With Redis, room broadcasts reach sockets on every server process (the socket.io Redis adapter). */
  shared?: SharedState;
}

/**
 * socket.io with the same access JWT as HTTP, checked at the handshake (`auth: {token}`).
 * Each socket joins its facility and user rooms. When the token expires the socket is told and
 * disconnected; the client reconnects with a fresh token.
 */
export class Realtime {
  readonly io: RealtimeServer;
  readonly #features: SocketFeature[] = [];
  readonly #limits: SocketEventLimits;
  readonly #userBuckets: UserBuckets;
  readonly #audit: AuditLog | undefined;

  constructor(
    httpServer: HttpServer,
    tokens: AccessTokens,
    private readonly logger: Logger,
    options: RealtimeOptions = {},
  ) {
    this.#limits = options.limits ?? DEFAULT_SOCKET_EVENT_LIMITS;
    this.#userBuckets = new UserBuckets(this.#limits.perUser);
    this.#audit = options.audit;
    this.io = new Server(httpServer, {
      path: '/socket.io',
      serveClient: false,
      maxHttpBufferSize: 1e6,
      // A blink of the clinic's link (≤ 15 s without a pong) never costs the signalling connection:
      // the server gives up after 15–25 s of silence, the client after 25 s without a ping.
      pingInterval: 10000,
      pingTimeout: 15000,
      connectionStateRecovery: { maxDisconnectionDuration: 60000, skipMiddlewares: false },
    });
    const adapterClients = options.shared?.adapterClients;
    if (adapterClients) this.io.adapter(createAdapter(adapterClients.pub, adapterClients.sub, { key: 'hoichan:socket.io' }));
    // engine.io answers any method but GET and POST on an open polling session with a bare 500.
    this.io.engine.use((req: { method?: string }, res: ServerResponse, next: (err?: unknown) => void) => {
      if (req.method === 'GET' || req.method === 'POST') {
        next();
        return;
      }
      res.writeHead(405, { allow: 'GET, POST', 'content-type': 'application/json; charset=utf-8' });
      res.end(JSON.stringify({ error: 'method_not_allowed', message: 'socket.io accepts GET and POST only' }));
    });
    this.io.use((socket, next) => {
      const auth = socket.handshake.auth as { token?: unknown } | undefined;
      const token = typeof auth?.token === 'string' ? auth.token : undefined;
      if (!token) {
        next(new Error('unauthorized: missing access token'));
        return;
      }
      try {
        const caller = tokens.verify(token);
        const payload = JSON.parse(Buffer.from(token.split('.')[1] ?? '', 'base64url').toString('utf8')) as { exp?: number };
        socket.data = { userId: caller.userId, role: caller.role, facilityId: caller.facilityId, tokenExpiresAt: (payload.exp ?? 0) * 1000 };
        next();
      } catch (err) {
        next(new Error(`unauthorized: ${(err as Error).message}`));
      }
    });
    this.io.on('connection', (socket) => this.#onConnection(socket));
  }

  use(feature: SocketFeature): void {
    this.#features.push(feature);
  }

  #onConnection(socket: RealtimeSocket): void {
    const { userId, facilityId, role, tokenExpiresAt } = socket.data;
    const guard = new SocketGuard(socket, this.#userBuckets.acquire(userId), this.#limits, this.#audit, this.logger);
    socket.on('disconnect', () => this.#userBuckets.release(userId));
    // Every incoming event, known or not, passes the rate limit first; events no handler knows
    // are refused here (and cost a strike) instead of vanishing.
    socket.use((packet, next) => {
      const [event] = packet;
      const name = typeof event === 'string' ? event : String(event);
      const last: unknown = packet.at(-1);
      const ack = packet.length > 1 && typeof last === 'function' ? (last as (r: unknown) => void) : undefined;
      if (guard.kicked) return;
      if (!guard.admit()) {
        ack?.(ackError('rate_limited', 'Too many events; slow down'));
        guard.strike(name, 'rate_limited');
        return;
      }
      if (typeof event !== 'string' || socket.listenerCount(event) === 0) {
        ack?.(ackError('unknown_event', `No such event: ${name.slice(0, 64)}`));
        guard.strike(name, 'unknown_event');
        return;
      }
      next();
    });
    const handlers = new RealtimeHandlers(socket, guard, this.logger);
    void socket.join([rooms.user(userId), rooms.facility(facilityId), ...(role === 'radiologist' ? [rooms.radiologists()] : [])]);
    const expiry = setTimeout(
      () => {
        socket.emit('session:expired', { message: 'Access token expired; reconnect with a fresh token' });
        socket.disconnect(true);
      },
      Math.max(0, tokenExpiresAt - Date.now()),
    );
    socket.on('disconnect', () => clearTimeout(expiry));
    handlers.on('session:ping', null, () => ({ at: new Date().toISOString() }));
    for (const feature of this.#features) {
      try {
        feature(socket, handlers);
      } catch (err) {
        this.logger.error({ err }, 'socket feature failed to attach');
      }
    }
    socket.emit('session:ready', { userId, role, facilityId });
  }

  async close(): Promise<void> {
    await new Promise<void>((resolve) => {
      void this.io.close(() => resolve());
    });
  }
}
