import type { Server as HttpServer } from 'node:http';
import { Server, type Socket } from 'socket.io';
import type { ClientToServerEvents, InterServerEvents, ServerToClientEvents, SocketData } from '../../contracts/events';
import { rooms } from '../../contracts/events';
import type { AccessTokens } from '../auth/tokens';
import type { Logger } from '../observability/logger';

export type RealtimeServer = Server<ClientToServerEvents, ServerToClientEvents, InterServerEvents, SocketData>;
export type RealtimeSocket = Socket<ClientToServerEvents, ServerToClientEvents, InterServerEvents, SocketData>;

/** A feature that handles socket events registers here; it is called for every authenticated socket. */
export type SocketFeature = (socket: RealtimeSocket) => void;

/**
 * socket.io with the same access JWT as HTTP, checked at the handshake (`auth: {token}`).
 * Each socket joins its facility and user rooms. When the token expires the socket is told and
 * disconnected; the client reconnects with a fresh token.
 */
export class Realtime {
  readonly io: RealtimeServer;
  readonly #features: SocketFeature[] = [];

  constructor(httpServer: HttpServer, tokens: AccessTokens, private readonly logger: Logger) {
    this.io = new Server(httpServer, {
      path: '/socket.io',
      serveClient: false,
      maxHttpBufferSize: 1e6,
      pingInterval: 10000,
      pingTimeout: 8000,
      connectionStateRecovery: { maxDisconnectionDuration: 60000, skipMiddlewares: false },
    });
    this.io.use((socket, next) => {
      const auth = socket.handshake.auth as { token?: unknown } | undefined;
      const token = typeof auth?.token === 'string' ? auth.token : undefined;
      if (!token) return next(new Error('unauthorized: missing access token'));
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
    void socket.join([rooms.user(userId), rooms.facility(facilityId), ...(role === 'radiologist' ? [rooms.radiologists()] : [])]);
    const expiry = setTimeout(() => {
      socket.emit('session:expired', { message: 'Access token expired; reconnect with a fresh token' });
      socket.disconnect(true);
    }, Math.max(0, tokenExpiresAt - Date.now()));
    socket.on('disconnect', () => clearTimeout(expiry));
    socket.on('session:ping', (ack) => {
      if (typeof ack === 'function') ack({ ok: true, at: new Date().toISOString() });
    });
    for (const feature of this.#features) {
      try {
        feature(socket);
      } catch (err) {
        this.logger.error({ err }, 'socket feature failed to attach');
      }
    }
    socket.emit('session:ready', { userId, role, facilityId });
  }

  async close(): Promise<void> {
    await new Promise<void>((resolve) => {
      this.io.close(() => resolve());
    });
  }
}
