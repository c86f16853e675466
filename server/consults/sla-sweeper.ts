/**
 * Periodically marks requested consults whose acceptance deadline passed (announced once, with
 * `consult:overdue`) and expires requests nobody accepted within EXPIRE_AFTER_MS. Each change is a
 * findOneAndUpdate with its precondition, so two servers sweeping at once announce each thing once.
 */
import type { Model } from 'mongoose';
import type { ConsultRequest } from '../../models/consult-request';
import type { Logger } from '../observability/logger';
import type { ConsultNotifier } from './notifier';
import { EXPIRE_AFTER_MS, SWEEP_INTERVAL_MS } from './sla';

export class SlaSweeper {
  #timer: NodeJS.Timeout | null = null;
  #running: Promise<void> | null = null;

  constructor(
    private readonly consults: Model<ConsultRequest>,
    private readonly notifier: ConsultNotifier,
    private readonly logger: Logger,
    private readonly intervalMs = SWEEP_INTERVAL_MS,
  ) {}

  start(): void {
    if (this.#timer) return;
    this.#timer = setInterval(() => void this.sweep(), this.intervalMs);
    this.#timer.unref();
  }

  async stop(): Promise<void> {
    if (this.#timer) clearInterval(this.#timer);
    this.#timer = null;
    await this.#running;
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
