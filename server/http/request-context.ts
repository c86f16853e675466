import { randomUUID } from 'node:crypto';
import type { NextFunction, Request, RequestHandler, Response } from 'express';
import type { Caller, RequestContext } from '../platform/request-context';

/** Express's side of the request context (server/platform/request-context.ts): it rides on `req.context`. */
declare module 'express-serve-static-core' {
  interface Request {
    context: RequestContext;
  }
}

/** Gives every request an id (the caller's X-Request-Id when it is sane) and echoes it back. */
export const requestContext: RequestHandler = (req: Request, res: Response, next: NextFunction) => {
  const given = req.header('x-request-id');
  const requestId = given && /^[A-Za-z0-9._-]{8,64}$/.test(given) ? given : randomUUID();
  res.setHeader('X-Request-Id', requestId);
  req.context = { requestId, ip: req.ip ?? req.socket.remoteAddress ?? 'unknown' };
  next();
};

/** The authenticated caller; routes behind `requireAuth` may rely on it. */
export function callerOf(req: Request): Caller {
  // eslint-disable-next-line @typescript-eslint/no-unnecessary-condition -- runtime: req.context is only set once the request-context middleware ran
  const caller = req.context?.caller;
  if (!caller) throw new Error('callerOf() used on a route without requireAuth');
  return caller;
}
