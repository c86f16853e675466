import type { IncomingMessage, RequestListener, ServerResponse } from 'node:http';
import type { Logger } from '../observability/logger';

/**
 * The HTTP server's one `request` listener for everything that is not socket.io.
 *
 * socket.io (engine.io) wraps the `request` listeners that exist when it attaches and hands them
 * only the requests outside its path, so this listener must be on the server *before* socket.io
 * attaches. The express app is built later (after the features), hence `setHandler`.
 * Until then, requests get a 503. A handler that throws synchronously answers 500 for that request
 * only (express already catches errors inside its own routes; this is the last line).
 */
export class HttpDispatcher {
  #handler: RequestListener | null = null;
  #inFlight = 0;
  #draining = false;
  #idle: Array<() => void> = [];

  /** Requests handed to the app whose answers have not ended yet. */
  get inFlight(): number {
    return this.#inFlight;
  }

  /**
   * Shutdown: from now on every answer carries `Connection: close`; resolves when the requests in
   * flight have been answered (or their clients have gone), or after `timeoutMs`. Returns how
   * many were still running at the timeout.
   */
  drain(timeoutMs: number): Promise<number> {
    this.#draining = true;
    if (this.#inFlight === 0) return Promise.resolve(0);
    return new Promise((resolve) => {
      const timer = setTimeout(() => resolve(this.#inFlight), timeoutMs);
      timer.unref();
      this.#idle.push(() => {
        clearTimeout(timer);
        resolve(0);
      });
    });
  }

  constructor(private readonly logger: Logger) {}

  setHandler(handler: RequestListener): void {
    this.#handler = handler;
  }

  readonly listener = (req: IncomingMessage, res: ServerResponse): void => {
    const handler = this.#handler;
    if (!handler) {
      answer(res, 503, 'starting', 'The server is starting; try again in a moment.');
      return;
    }
    this.#inFlight += 1;
    res.once('close', () => {
      this.#inFlight -= 1;
      if (this.#inFlight === 0) for (const wake of this.#idle.splice(0)) wake();
    });
    if (this.#draining) res.setHeader('Connection', 'close');
    try {
      handler(req, res);
    } catch (err) {
      this.logger.error({ err, method: req.method }, 'request handler threw');
      answer(res, 500, 'internal', 'Internal server error');
    }
  };
}

function answer(res: ServerResponse, status: number, error: string, message: string): void {
  if (res.headersSent) {
    res.end();
    return;
  }
  res.writeHead(status, { 'content-type': 'application/json; charset=utf-8', ...(status === 503 ? { 'retry-after': '1' } : {}) });
  res.end(JSON.stringify({ error, message }));
}
