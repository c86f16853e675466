/**
 * State that must be the same in every server process: login attempt counts (per account and per
 * address) and the socket.io adapter that carries room broadcasts between processes.
 *
 * One process (no REDIS_URL): counts in memory, socket.io's in-process adapter. Several processes:
 * Redis (`REDIS_URL`), so an attacker cannot get N times the attempts by spreading them over N
 * servers, and an event emitted to a room on one process reaches its sockets on every process.
 * Keys hold only hashes of what they count (no e-mail address or IP in Redis).
 */
import { createHash, randomUUID } from 'node:crypto';
import { createClient } from 'redis';
import { SlidingWindowLimiter } from './sliding-window';
import { ServiceUnavailableError } from './errors';
import type { Logger } from '../observability/logger';

/** Counts attempts in a sliding window: the same contract in memory and in Redis. */
export interface AttemptLimiter {
  /** Seconds until another attempt is allowed, or 0 when one is allowed now. */
  retryAfterS(key: string): Promise<number>;
  hit(key: string): Promise<void>;
  reset(key: string): Promise<void>;
}

export type RedisClient = ReturnType<typeof createClient>;

export interface SharedState {
  readonly kind: 'process' | 'redis';
  limiter(name: string, max: number, windowMs: number): AttemptLimiter;
  /** The publish and subscribe connections for the socket.io Redis adapter; null in one process. */
  readonly adapterClients: { pub: RedisClient; sub: RedisClient } | null;
  close(): Promise<void>;
}

class ProcessLimiter implements AttemptLimiter {
  readonly #window: SlidingWindowLimiter;
  constructor(max: number, windowMs: number) {
    this.#window = new SlidingWindowLimiter(max, windowMs);
  }
  retryAfterS(key: string): Promise<number> {
    return Promise.resolve(this.#window.retryAfterS(key));
  }
  hit(key: string): Promise<void> {
    this.#window.hit(key);
    return Promise.resolve();
  }
  reset(key: string): Promise<void> {
    this.#window.reset(key);
    return Promise.resolve();
  }
}

/** A sorted set per key: members are attempts, scores their times; trimmed to the window on read. */
export class RedisLimiter implements AttemptLimiter {
  constructor(
    private readonly redis: RedisClient,
    private readonly name: string,
    private readonly max: number,
    private readonly windowMs: number,
    private readonly now: () => number = Date.now,
  ) {}

  #key(key: string): string {
    return `hoichan:attempts:${this.name}:${createHash('sha256').update(key).digest('base64url')}`;
  }

  async retryAfterS(key: string): Promise<number> {
    const k = this.#key(key);
    const now = this.now();
    // One round trip: drop attempts older than the window, count the rest, read the max-th newest.
    const [, count, oldest] = await unavailableOnError(() =>
      this.redis
        .multi()
        .zRemRangeByScore(k, '-inf', now - this.windowMs)
        .zCard(k)
        .zRangeWithScores(k, -this.max, -this.max)
        .execTyped(),
    );
    if (count < this.max) return 0;
    const at = oldest[0]?.score ?? now;
    return Math.max(1, Math.ceil((at + this.windowMs - now) / 1000));
  }

  async hit(key: string): Promise<void> {
    const k = this.#key(key);
    await unavailableOnError(() => this.redis.multi().zAdd(k, { score: this.now(), value: randomUUID() }).pExpire(k, this.windowMs).exec());
  }

  async reset(key: string): Promise<void> {
    await unavailableOnError(() => this.redis.del(this.#key(key)));
  }
}

/** Redis away: the request is refused with a 503 ("try again"), never let through uncounted. */
async function unavailableOnError<T>(op: () => Promise<T>): Promise<T> {
  try {
    return await op();
  } catch {
    throw new ServiceUnavailableError('Shared state (Redis) is unavailable; try again shortly');
  }
}

export function processSharedState(): SharedState {
  return {
    kind: 'process',
    adapterClients: null,
    limiter: (_name, max, windowMs) => new ProcessLimiter(max, windowMs),
    close: () => Promise.resolve(),
  };
}

/** Connects to Redis (three connections: commands, adapter publish, adapter subscribe). */
export async function openSharedState(redisUrl: string | undefined, logger: Logger): Promise<SharedState> {
  if (!redisUrl) return processSharedState();
  const connect = async (role: string): Promise<RedisClient> => {
    const client = createClient({ url: redisUrl, socket: { reconnectStrategy: (retries) => Math.min(100 * 2 ** retries, 3000) } });
    let reported = false;
    client.on('error', (err: unknown) => {
      if (!reported) logger.warn({ err, role }, 'Redis connection error (reconnecting)');
      reported = true;
    });
    client.on('ready', () => (reported = false));
    await client.connect();
    return client;
  };
  const commands = await connect('commands');
  const pub = await connect('adapter-pub');
  const sub = await connect('adapter-sub');
  logger.info({ redis: redactUrl(redisUrl) }, 'shared state in Redis: login limits and realtime rooms span every server process');
  return {
    kind: 'redis',
    adapterClients: { pub, sub },
    limiter: (name, max, windowMs) => new RedisLimiter(commands, name, max, windowMs),
    async close() {
      for (const c of [sub, pub, commands]) await c.close().catch(() => undefined);
    },
  };
}

function redactUrl(url: string): string {
  try {
    const u = new URL(url);
    if (u.password) u.password = '***';
    return u.toString();
  } catch {
    return 'redis://…';
  }
}
