import type { RequestHandler } from 'express';
import type { UserRole } from '../../models/user';
import { ForbiddenError, UnauthorizedError } from '../platform/errors';
import { bearerToken, type AccessTokens } from './tokens';

/**
 * Every route behind this needs a valid access token whose account is still as it was when the
 * token was issued (active, same role and facility, sessions not revoked, facility active: checked
 * on every request, see account-status.ts); the caller lands in `req.context.caller`.
 */
export function requireAuth(tokens: AccessTokens): RequestHandler {
  return (req, _res, next) => {
    const token = bearerToken(req.header('authorization'));
    if (!token) {
      next(new UnauthorizedError('Missing bearer token (Authorization: Bearer <access token>)'));
      return;
    }
    tokens.verifyCurrent(token).then(
      (caller) => {
        req.context.caller = caller;
        next();
      },
      (err: unknown) => next(err),
    );
  };
}

export function requireRole(...roles: UserRole[]): RequestHandler {
  return (req, _res, next) => {
    const caller = req.context.caller;
    if (!caller) {
      next(new UnauthorizedError());
      return;
    }
    if (!roles.includes(caller.role)) {
      next(new ForbiddenError(`This needs one of the roles: ${roles.join(', ')}`));
      return;
    }
    next();
  };
}
