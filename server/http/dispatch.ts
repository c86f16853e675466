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
