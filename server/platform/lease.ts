/**
 * A lease: which one of several server processes runs a timed job (the SLA sweep) this time. The
 * holder renews it each run; if the holder dies, the lease expires and another process takes it
 * on its next try.
 *
 * Why Redis and not a lease document in the database: several processes already need Redis
 * (`REDIS_URL`) for the socket.io adapter, login limits and room presence, and Redis alone decides
 * when a key expires (its own clock), so the servers' clocks cannot disagree about whether a lease
 * ran out. Without Redis the process is alone, and holds every lease. (Should processes ever run
 * without Redis, the sweep stays correct — each change is conditional — it is only done twice.)
 */
import type { RedisClient } from './shared-state';

export interface Lease {
  readonly name: string;
  /** Takes the lease if it is free or expired, renews it if this process holds it; false when another process holds it. */
  hold(): Promise<boolean>;
  /** Gives the lease up (if this process holds it), so another process can take it at once. */
  release(): Promise<void>;
  /** Which process holds it now (null: nobody). */
  holder(): Promise<string | null>;
}

/** One process: it holds every lease. */
export class ProcessLease implements Lease {
  constructor(
    readonly name: string,
    private readonly processId: string,
  ) {}
  hold(): Promise<boolean> {
    return Promise.resolve(true);
  }
  release(): Promise<void> {
    return Promise.resolve();
  }
  holder(): Promise<string | null> {
    return Promise.resolve(this.processId);
  }
}

/** Renew when ours, take when free, in one step (nobody can take it between the check and the write). */
const HOLD = `
local v = redis.call('GET', KEYS[1])
if v == ARGV[1] then redis.call('PEXPIRE', KEYS[1], ARGV[2]) return 1 end
if not v then redis.call('SET', KEYS[1], ARGV[1], 'PX', ARGV[2]) return 1 end
return 0`;
/** Deletes key KEYS[1] only while it holds ARGV[1] (its holder), in one step: a key taken over by another since stays theirs. */
export const RELEASE_IF_HELD = `
if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('DEL', KEYS[1]) end
return 0`;

export const leaseKey = (name: string): string => `hoichan:lease:${name}`;

/** A key holding the holder's process id, with the lease's time to live. */
export class RedisLease implements Lease {
  constructor(
    private readonly redis: RedisClient,
    readonly name: string,
    private readonly processId: string,
    private readonly ttlMs: number,
  ) {}

  async hold(): Promise<boolean> {
    const got = await this.redis.eval(HOLD, { keys: [leaseKey(this.name)], arguments: [this.processId, String(this.ttlMs)] });
    return got === 1;
  }

  async release(): Promise<void> {
    await this.redis.eval(RELEASE_IF_HELD, { keys: [leaseKey(this.name)], arguments: [this.processId] });
  }

  holder(): Promise<string | null> {
    return this.redis.get(leaseKey(this.name));
  }
}

/**
 * A job run every `intervalMs` by whichever process holds `lease` (taken or renewed before each
 * run), for jobs whose writes carry no precondition and must not run on two processes at once.
 * The lease's time to live should exceed the interval, so the holder keeps it between runs; when
 * the holder dies another process takes over within that time. `stop()` hands the lease back.
 */
export class LeasedJob {
  readonly #timer: NodeJS.Timeout;
  #running: Promise<void> | null = null;

  constructor(
    private readonly lease: Lease,
    intervalMs: number,
    private readonly job: () => Promise<void>,
    private readonly onError: (err: unknown) => void,
  ) {
    this.#timer = setInterval(() => void this.tick(), intervalMs);
    this.#timer.unref();
  }

  /** One run: the job if this process holds the lease; never two runs of this process at once. Resolves true when the job ran. */
  async tick(): Promise<boolean> {
    if (this.#running) return false;
    let ran = false;
    this.#running = (async () => {
      if (!(await this.lease.hold())) return;
      ran = true;
      await this.job();
    })()
      .catch(this.onError)
      .finally(() => {
        this.#running = null;
      });
    await this.#running;
    return ran;
  }

  async stop(): Promise<void> {
    clearInterval(this.#timer);
    await this.#running;
    await this.lease.release().catch(this.onError);
  }
}
