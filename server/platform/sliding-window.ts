/**
 * Sliding-window counters for login attempts, per account and per network address.
 * In memory: the one-process side of AttemptLimiter (shared-state.ts), whose Redis side lets
 * several processes share one limit.
 */
export class SlidingWindowLimiter {
  readonly #hits = new Map<string, number[]>();

  constructor(
    private readonly max: number,
    private readonly windowMs: number,
    private readonly now: () => number = Date.now,
  ) {}

  /** Seconds until another attempt is allowed, or 0 when one is allowed now. */
  retryAfterS(key: string): number {
    const hits = this.#live(key);
    if (hits.length < this.max) return 0;
    const oldest = hits[hits.length - this.max] ?? this.now();
    return Math.max(1, Math.ceil((oldest + this.windowMs - this.now()) / 1000));
  }

  hit(key: string): void {
    const hits = this.#live(key);
    hits.push(this.now());
    this.#hits.set(key, hits);
    if (this.#hits.size > 50000) this.#sweep();
  }

  reset(key: string): void {
    this.#hits.delete(key);
  }

  #live(key: string): number[] {
    const cutoff = this.now() - this.windowMs;
    return (this.#hits.get(key) ?? []).filter((t) => t > cutoff);
  }

  #sweep(): void {
    for (const key of this.#hits.keys()) {
      const live = this.#live(key);
      if (live.length === 0) this.#hits.delete(key);
      else this.#hits.set(key, live);
    }
  }
}
