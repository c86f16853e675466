/**
 * Bounds on one request's life: a deadline, and an AbortSignal on its context that fires when the
 * deadline passes or the client goes away, so long work can stop instead of running on for nobody.
 */
import type { RequestHandler } from 'express';
import { ClientClosedError, DeadlineExceededError } from '../platform/errors';
import { sendError } from './error-handler';

export function requestLifetime(timeoutMs: number): RequestHandler {
  return (req, res, next) => {
    const controller = new AbortController();
    req.context.signal = controller.signal;
    // The deadline counts from when the request is handed to express; uploads (multipart, and tus
    // PATCHes of application/offset+octet-stream) are left to their own size limits (a large X-ray
    // on a slow district link may take minutes to arrive).
    const multipart = /^(multipart\/|application\/offset\+octet-stream)/i.test(req.header('content-type') ?? '');
    const timer = multipart
      ? undefined
      : setTimeout(() => {
          // An answer already under way (a large image going out on a slow link) is left alone.
          if (res.headersSent) return;
          const err = new DeadlineExceededError(timeoutMs);
          controller.abort(err);
          res.setHeader('Connection', 'close');
          sendError(req, res, err);
        }, timeoutMs);
    timer?.unref();
    res.once('close', () => {
      clearTimeout(timer);
      if (!res.writableFinished && !controller.signal.aborted) controller.abort(new ClientClosedError());
    });
    res.once('finish', () => clearTimeout(timer));
    next();
  };
}
