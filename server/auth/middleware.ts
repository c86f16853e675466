import type { RequestHandler } from 'express';
import type { UserRole } from '../../models/user';
import { ForbiddenError, UnauthorizedError } from '../http/errors';
import { bearerToken, type AccessTokens } from './tokens';

/** Every route behind this needs a valid access token; the caller lands in `req.context.caller`. */
export function requireAuth(tokens: AccessTokens): RequestHandler {
  return (req, _res, next) => {
    const token = bearerToken(req.header('authorization'));
    if (!token) return next(new UnauthorizedError('Missing bearer token (Authorization: Bearer <access token>)'));
    try {
      req.context.caller = tokens.verify(token);
      next();
    } catch (err) {
      next(err);
    }
  };
}

export function requireRole(...roles: UserRole[]): RequestHandler {
  return (req, _res, next) => {
    const caller = req.context.caller;
    if (!caller) return next(new UnauthorizedError());
    if (!roles.includes(caller.role)) return next(new ForbiddenError(`This needs one of the roles: ${roles.join(', ')}`));
    next();
  };
}
