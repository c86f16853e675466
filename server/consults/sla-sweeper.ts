/**
 * Periodically marks requested consults whose acceptance deadline passed (announced once, with
 * `consult:overdue`) and expires requests nobody accepted within EXPIRE_AFTER_MS.
 *
 * With several server processes only the holder of the `sla-sweeper` lease sweeps (one process
 * per interval, not N); the holder renews it on every tick, and when it dies the lease expires
 * (SWEEP_LEASE_TTL_MS) and another process takes over on its next tick. The lease saves the
 * redundant work; correctness does not depend on it: each change is a findOneAndUpdate with its
 * precondition, so even two sweeps at once (a holder too slow to renew) announce each thing once.
 */
import type { Model } from 'mongoose';
import type { ConsultRequest } from '../../models/consult-request';
import type { Logger } from '../observability/logger';
import type { Lease } from '../platform/lease';
import type { ConsultNotifier } from './notifier';
import { EXPIRE_AFTER_MS, SWEEP_INTERVAL_MS } from './sla';

/** Three missed renewals before another process takes over: a slow sweep or a short Redis hiccup does not hand the job around. */
export const SWEEP_LEASE_TTL_MS = 3 * SWEEP_INTERVAL_MS;

export class SlaSweeper {
  #timer: NodeJS.Timeout | null = null;
  #running: Promise<void> | null = null;
  #ticking: Promise<void> | null = null;
  /** Whether this process held the lease at its last tick (to log the changes, not every tick). */
  #holding = false;
  #leaseErrorLogged = false;

  constructor(
    private readonly consults: Model<ConsultRequest>,
    private readonly notifier: ConsultNotifier,
    private readonly logger: Logger,
    private readonly lease: Lease,
    private readonly intervalMs = SWEEP_INTERVAL_MS,
  ) {}

  start(): void {
    if (this.#timer) return;
    this.#timer = setInterval(() => void this.tick(), this.intervalMs);
    this.#timer.unref();
  }

  async stop(): Promise<void> {
    if (this.#timer) clearInterval(this.#timer);
    this.#timer = null;
    await this.#ticking;
    await this.#running;
    // Hand the job over at once instead of after the lease's expiry.
    if (this.#holding) await this.lease.release().catch(() => undefined);
    this.#holding = false;
  }

  /** One tick of the timer: sweeps if this process holds (or now takes) the lease. */
  tick(now?: Date): Promise<void> {
    if (this.#ticking) return this.#ticking;
    this.#ticking = this.#tick(now).finally(() => {
      this.#ticking = null;
    });
    return this.#ticking;
  }

  async #tick(now?: Date): Promise<void> {
    let held = false;
    try {
      held = await this.lease.hold();
      this.#leaseErrorLogged = false;
    } catch (err) {
      // Shared state away: nobody can know who holds the lease, so nobody sweeps until it is back.
      if (!this.#leaseErrorLogged) this.logger.warn({ err, lease: this.lease.name }, 'consults: SLA sweeper cannot reach its lease; not sweeping');
      this.#leaseErrorLogged = true;
    }
    if (held !== this.#holding) {
      this.#holding = held;
      if (held) this.logger.info({ lease: this.lease.name }, 'consults: this process holds the SLA sweep lease and sweeps');
      else this.logger.info({ lease: this.lease.name }, 'consults: another process holds the SLA sweep lease; this one stands by');
    }
    if (held) await this.sweep(now);
  }

  /** One pass (never overlapping itself); errors are logged, never thrown. */
  sweep(now = new Date()): Promise<void> {
    if (this.#running) return this.#running;
    this.#running = this.#sweep(now)
      .catch((err: unknown) => this.logger.warn({ err }, 'consults: SLA sweep failed'))
      .finally(() => {
        this.#running = null;
      });
    return this.#running;
  }

  async #sweep(now: Date): Promise<void> {
    const overdue = await this.consults
      .find({ status: 'requested', slaDeadline: { $lt: now }, overdueNotifiedAt: null }, { _id: 1 })
      .limit(200)
      .lean();
    for (const { _id } of overdue) {
      const marked = await this.consults
        .findOneAndUpdate(
          { _id, status: 'requested', overdueNotifiedAt: null },
          { $set: { overdueNotifiedAt: now } },
          { returnDocument: 'after', timestamps: false },
        )
        .lean<ConsultRequest>();
      if (marked) await this.notifier.overdue(marked);
    }
    const stale = await this.consults
      .find({ status: 'requested', requestedAt: { $lt: new Date(now.getTime() - EXPIRE_AFTER_MS) } }, { _id: 1 })
      .limit(200)
      .lean();
    for (const { _id } of stale) {
      const expired = await this.consults
        .findOneAndUpdate({ _id, status: 'requested' }, { $set: { status: 'expired', 'stateTimes.expired': now } }, { returnDocument: 'after' })
        .lean<ConsultRequest>();
      if (expired) {
        this.notifier.status(expired, null);
        await this.notifier.queueChanged(expired, 'expired', null);
      }
    }
  }
}
