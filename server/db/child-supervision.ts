/**
 * What the embedded database supervisors (FerretDB, PostgreSQL) share: restarting a child that died
 * with a growing pause, stopping one with a signal and a deadline, and keeping the end of its stderr
 * for the log line that says why it died.
 */
import type { ChildProcess } from 'node:child_process';
import type { Logger } from '../observability/logger';

/** The pause before restart attempt `attempt` (1, 2, …): 0.2 s doubling up to 5 s. */
export function restartPauseMs(attempt: number): number {
  return Math.min(5000, 200 * 2 ** (attempt - 1));
}

/**
 * Restarts a child through `start` until it succeeds, pausing `restartPauseMs(attempt)` before each
 * try. One restart at a time: `schedule()` while one is pending does nothing. `cancel()` for good.
 */
export class RestartBackoff {
  #timer: NodeJS.Timeout | null = null;
  #restarts = 0;
  #cancelled = false;

  constructor(
    private readonly what: string,
    private readonly start: () => Promise<void>,
    private readonly logger: Logger,
    private readonly onRestart?: () => void,
  ) {}

  /** Successful restarts so far. */
  get restarts(): number {
    return this.#restarts;
  }

  schedule(attempt = 1): void {
    if (this.#cancelled || this.#timer) return;
    this.#timer = setTimeout(() => {
      this.#timer = null;
      if (this.#cancelled) return;
      this.start().then(
        () => {
          this.#restarts += 1;
          this.onRestart?.();
        },
        (err: unknown) => {
          this.logger.error({ err }, `${this.what} restart failed; retrying`);
          this.schedule(attempt + 1);
        },
      );
    }, restartPauseMs(attempt));
  }

  cancel(): void {
    this.#cancelled = true;
    if (this.#timer) clearTimeout(this.#timer);
    this.#timer = null;
  }
}

/** Sends `signal` and waits for the child to exit, with SIGKILL after `killAfterMs`. */
export function stopChild(child: ChildProcess, signal: NodeJS.Signals, killAfterMs: number): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return Promise.resolve();
  return new Promise<void>((resolve) => {
    const killer = setTimeout(() => child.kill('SIGKILL'), killAfterMs);
    child.once('exit', () => {
      clearTimeout(killer);
      resolve();
    });
    child.kill(signal);
  });
}

/** Keeps the last `keep` characters the child wrote to stderr; call the result to read them. */
export function stderrTail(child: ChildProcess, keep = 4000): () => string {
  let tail = '';
  // A child's stderr is null unless it was spawned with stderr piped.
  child.stderr?.on('data', (chunk: Buffer) => {
    tail = (tail + chunk.toString('utf8')).slice(-keep);
  });
  return () => tail;
}
