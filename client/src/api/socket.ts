/**
 * One socket.io connection per signed-in session, typed with the shared event map. When the
 * access token is refreshed (or the server says it expired) the socket reconnects with the new one.
 */
import { io, type Socket } from 'socket.io-client';
import type { ClientToServerEvents, ServerToClientEvents } from '../../../contracts/events';
import { SIGNALLING_RECONNECT } from '../lib/signalling-reconnect';
import type { ApiClient } from './client';

export type HoichanSocket = Socket<ServerToClientEvents, ClientToServerEvents>;

export type ConnectionState = 'connecting' | 'connected' | 'disconnected';

export class RealtimeConnection {
  #socket: HoichanSocket | null = null;
  #state: ConnectionState = 'disconnected';
  readonly #stateListeners = new Set<(s: ConnectionState) => void>();
  #unsubscribe: () => void;

  constructor(private readonly client: ApiClient) {
    this.#unsubscribe = client.onToken((token) => {
      if (token) this.#reconnectWith(token);
      else this.close();
    });
    if (client.accessToken) this.#reconnectWith(client.accessToken);
  }

  get socket(): HoichanSocket | null {
    return this.#socket;
  }
  get state(): ConnectionState {
    return this.#state;
  }

  onState(listener: (s: ConnectionState) => void): () => void {
    this.#stateListeners.add(listener);
    return () => this.#stateListeners.delete(listener);
  }

  #setState(s: ConnectionState): void {
    this.#state = s;
    for (const l of this.#stateListeners) l(s);
  }

  #reconnectWith(token: string): void {
    if (this.#socket) {
      // Keep the same Socket object (listeners stay attached): new auth, then reconnect.
      this.#socket.auth = { token };
      if (this.#socket.connected) {
        this.#socket.disconnect();
      }
      this.#socket.connect();
      return;
    }
    const socket: HoichanSocket = io({
      path: '/socket.io',
      auth: { token },
      transports: ['websocket', 'polling'],
      ...SIGNALLING_RECONNECT,
    });
    socket.on('connect', () => this.#setState('connected'));
    socket.on('disconnect', () => this.#setState('disconnected'));
    socket.io.on('reconnect_attempt', () => this.#setState('connecting'));
    socket.on('connect_error', () => this.#setState('disconnected'));
    socket.on('session:expired', () => {
      void this.client.refresh();
    });
    this.#socket = socket;
    this.#setState('connecting');
  }

  close(): void {
    this.#socket?.disconnect();
    this.#socket?.removeAllListeners();
    this.#socket = null;
    this.#setState('disconnected');
  }

  dispose(): void {
    this.#unsubscribe();
    this.close();
  }
}
