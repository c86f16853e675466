/**
 * Limits on what one socket (and one user, over all their sockets) may send: a token bucket per
 * connection and per user, counting every event, known or not, and one strike budget per
 * connection. A refused event (over the rate, unknown, invalid payload, failed handler) costs a
 * strike; strikes come back slowly (the budget refills over a minute), so a client that misbehaves
 * now and then is never cut off, while one that floods or probes is disconnected and audited.
 */
import type { AuditLog } from '../audit/audit-log';
import type { Logger } from '../observability/logger';

export interface RateLimit {
  /** Sustained events per second. */
  ratePerS: number;
  /** Events allowed at once above the sustained rate. */
  burst: number;
}

export interface SocketEventLimits {
  perConnection: RateLimit;
  perUser: RateLimit;
  /** Refused events a connection may send (refilled over 60 s) before it is disconnected. */
  strikeBudget: number;
}

export const DEFAULT_SOCKET_EVENT_LIMITS: SocketEventLimits = {
  perConnection: { ratePerS: 20, burst: 60 },
  perUser: { ratePerS: 40, burst: 120 },
  strikeBudget: 10,
};

/** A token bucket: `take()` is true while tokens remain; they refill at `ratePerS` up to `burst`. */
export class TokenBucket {
  #tokens: number;
  #at: number;

  constructor(
    private readonly ratePerS: number,
    private readonly burst: number,
    now = Date.now(),
  ) {
    this.#tokens = burst;
    this.#at = now;
  }

  take(now = Date.now()): boolean {
    this.#tokens = Math.min(this.burst, this.#tokens + ((now - this.#at) / 1000) * this.ratePerS);
    this.#at = now;
    if (this.#tokens < 1) return false;
    this.#tokens -= 1;
    return true;
  }
}

export interface GuardedSocket {
  id: string;
  data: { userId: string; role: string; facilityId: string };
  handshake: { address: string };
  connected: boolean;
  disconnect(close?: boolean): unknown;
}

/** Why an event was refused; the code goes into the ack `{ok: false, error: code, message}`. */
export type Refusal = 'rate_limited' | 'unknown_event' | 'invalid' | 'failed';

/** One per connection: its rate, its strikes, and the disconnect (audited) when they run out. */
export class SocketGuard {
  readonly #bucket: TokenBucket;
  readonly #strikes: TokenBucket;
  #kicked = false;

  constructor(
    private readonly socket: GuardedSocket,
    private readonly userBucket: TokenBucket,
    private readonly limits: SocketEventLimits,
    private readonly audit: AuditLog | undefined,
    private readonly logger: Logger,
  ) {
    this.#bucket = new TokenBucket(limits.perConnection.ratePerS, limits.perConnection.burst);
    this.#strikes = new TokenBucket(limits.strikeBudget / 60, limits.strikeBudget);
  }

  get kicked(): boolean {
    return this.#kicked;
  }

  /** Counts one incoming event against the connection's and the user's rate. */
  admit(): boolean {
    // Both buckets pay for the event, so one user's second socket cannot double the rate.
    const conn = this.#bucket.take();
    const user = this.userBucket.take();
    return conn && user;
  }

  /**
   * One refused event. Past the budget: refuse everything after it, record an audit entry naming
   * the reason, and disconnect once the events admitted before it have been answered.
   */
  strike(event: string, why: Refusal, detail?: string): void {
    if (this.#kicked) return;
    if (this.#strikes.take()) {
      this.logger.debug({ userId: this.socket.data.userId, event, why, detail }, 'socket event refused');
      return;
    }
    this.#kicked = true;
    const { userId, role, facilityId } = this.socket.data;
    const reason =
      why === 'rate_limited' ? 'too many events' : why === 'unknown_event' ? 'unknown events' : why === 'invalid' ? 'invalid payloads' : 'failing requests';
    this.logger.warn({ userId, event, why }, `socket disconnected: ${reason}`);
    void this.audit
      ?.record({
        kind: 'access-denied',
        action: 'E',
        success: false,
        outcomeDesc: `socket disconnected for abuse: ${reason} (last event ${event.slice(0, 64)})`,
        agent: { userId, role, facilityId, ip: this.socket.handshake.address },
        requestId: `socket:${this.socket.id}`,
      })
      .catch((err: unknown) => this.logger.error({ err }, 'could not audit a socket disconnect'));
    // Nothing more is admitted from now on, but the events admitted before this one (socket.io
    // dispatches them on the next tick, and a whole batch of frames is read at once) are still
    // handled and answered: the disconnect waits for them.
    setImmediate(() => this.socket.disconnect(true));
  }
}

/** Per-user buckets shared by all of that user's sockets; dropped with the last socket. */
export class UserBuckets {
  readonly #buckets = new Map<string, { bucket: TokenBucket; sockets: number }>();

  constructor(private readonly limit: RateLimit) {}

  acquire(userId: string): TokenBucket {
    let e = this.#buckets.get(userId);
    if (!e) {
      e = { bucket: new TokenBucket(this.limit.ratePerS, this.limit.burst), sockets: 0 };
      this.#buckets.set(userId, e);
    }
    e.sockets += 1;
    return e.bucket;
  }

  release(userId: string): void {
    const e = this.#buckets.get(userId);
    if (!e) return;
    e.sockets -= 1;
    // Kept a minute after the last socket goes, so reconnecting does not reset the user's rate.
    if (e.sockets <= 0) {
      setTimeout(() => {
        const now = this.#buckets.get(userId);
        if (now && now.sockets <= 0) this.#buckets.delete(userId);
      }, 60_000).unref();
    }
  }
}
