/**
 * State that must be the same in every server process: login attempt counts (per account and per
 * address), the socket.io adapter that carries room broadcasts between processes, who is in a live
 * room and who waits outside it (room-presence.ts), and which process runs a timed job (lease.ts).
 *
 * One process (no REDIS_URL): all of it in memory, socket.io's in-process adapter. Several
 * processes: Redis (`REDIS_URL`), so an attacker cannot get N times the attempts by spreading them
 * over N servers, an event emitted to a room on one process reaches its sockets on every process, a
 * host on one process admits a guest waiting on another, and a timed job runs once, not N times.
 * Login keys hold only hashes of what they count (no e-mail address or IP in Redis).
 */
import { createHash, randomUUID } from 'node:crypto';
import os from 'node:os';
import { createClient } from 'redis';
import { SlidingWindowLimiter } from './sliding-window';
import { ServiceUnavailableError } from './errors';
import { ProcessLease, RedisLease, type Lease } from './lease';
import { aliveKey, PROCESS_ALIVE_TTL_MS, PROCESS_HEARTBEAT_MS, ProcessRoomPresence, RedisRoomPresence, type RoomPresence } from './room-presence';
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
  /** This process among the others (host, pid and a random part): named in presence entries and leases, and in the logs. */
  readonly processId: string;
  limiter(name: string, max: number, windowMs: number): AttemptLimiter;
  /** The publish and subscribe connections for the socket.io Redis adapter; null in one process. */
  readonly adapterClients: { pub: RedisClient; sub: RedisClient } | null;
  /** The command connection (media nodes' registry, room owners and messages; duplicate() it to subscribe); null in one process. */
  readonly redis: RedisClient | null;
  /** Presence and waiting rooms of one kind of live room (e.g. 'consult'); the same object for the same name. */
  roomPresence(name: string): RoomPresence;
  /** A lease on a timed job, expiring `ttlMs` after its holder last renewed it. */
  lease(name: string, ttlMs: number): Lease;
  close(): Promise<void>;
}

function newProcessId(): string {
  return `${os.hostname()}:${process.pid}:${randomUUID().slice(0, 8)}`;
}

/** One object per name, made on first use. */
function memo<T>(make: (name: string) => T): (name: string) => T {
  const made = new Map<string, T>();
  return (name) => {
    let v = made.get(name);
    if (v === undefined) {
      v = make(name);
      made.set(name, v);
    }
    return v;
  };
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
  const processId = newProcessId();
  return {
    kind: 'process',
    processId,
    adapterClients: null,
    redis: null,
    limiter: (_name, max, windowMs) => new ProcessLimiter(max, windowMs),
    roomPresence: memo(() => new ProcessRoomPresence()),
    lease: (name) => new ProcessLease(name, processId),
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
  const processId = newProcessId();
  const heartbeat = startHeartbeat(commands, processId);
  await heartbeat.beat();
  logger.info(
    { redis: redactUrl(redisUrl), processId },
    'shared state in Redis: login limits, realtime rooms, room presence and timed-job leases span every server process',
  );
  return {
    kind: 'redis',
    processId,
    adapterClients: { pub, sub },
    redis: commands,
    limiter: (name, max, windowMs) => new RedisLimiter(commands, name, max, windowMs),
    roomPresence: memo((name) => new RedisRoomPresence(commands, name, processId)),
    lease: (name, ttlMs) => new RedisLease(commands, name, processId, ttlMs),
    async close() {
      await heartbeat.stop();
      for (const c of [sub, pub, commands]) await c.close().catch(() => undefined);
    },
  };
}

/**
 * This process's `alive` key, renewed every PROCESS_HEARTBEAT_MS: while it exists, the room
 * entries of this process's sockets count. Deleted on an orderly shutdown, so they stop counting at
 * once; after a crash they stop counting when the key expires.
 */
function startHeartbeat(redis: RedisClient, processId: string): { beat(): Promise<void>; stop(): Promise<void> } {
  const beat = async () => {
    await redis.set(aliveKey(processId), '1', { expiration: { type: 'PX', value: PROCESS_ALIVE_TTL_MS } });
  };
  const timer = setInterval(() => void beat().catch(() => undefined), PROCESS_HEARTBEAT_MS);
  timer.unref();
  return {
    beat,
    async stop() {
      clearInterval(timer);
      await redis.del(aliveKey(processId)).catch(() => undefined);
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
