/**
 * Runs at most `limit` tasks at once; the rest wait in order. Past `maxWaiting` waiting tasks a new
 * one is refused at once (the caller answers "busy, try again") rather than queueing without bound.
 */
export class GateFullError extends Error {
  constructor(readonly waiting: number) {
    super(`${waiting} tasks are already waiting`);
  }
}

export class ConcurrencyGate {
  #running = 0;
  readonly #waiting: Array<() => void> = [];

  constructor(
    readonly limit: number,
    readonly maxWaiting: number,
  ) {
    if (!Number.isInteger(limit) || limit < 1) throw new Error('limit must be a positive integer');
  }

  get running(): number {
    return this.#running;
  }

  get waiting(): number {
    return this.#waiting.length;
  }

  async run<T>(task: () => Promise<T>): Promise<T> {
    if (this.#running >= this.limit) {
      if (this.#waiting.length >= this.maxWaiting) throw new GateFullError(this.#waiting.length);
      await new Promise<void>((resolve) => this.#waiting.push(resolve));
    } else {
      this.#running++;
    }
    try {
      return await task();
    } finally {
      const next = this.#waiting.shift();
      // the slot passes straight to the next waiter, so #running stays the same
      if (next) next();
      else this.#running--;
    }
  }
}
