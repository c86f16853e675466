import { Router } from 'express';
import { z } from 'zod';
import type { Connection } from 'mongoose';
import { facilityModel } from '../../models/facility';
import { userModel } from '../../models/user';
import type { LoginResponse, MeResponse } from '../../contracts/api';
import { NotFoundError } from '../platform/errors';
import { callerOf } from '../http/request-context';
import { parseInput } from '../http/validate';
import type { AuthService } from './auth-service';
import { requireAuth } from './middleware';
import type { ApiDocs } from '../http/openapi';

const loginBody = z.object({ email: z.string().min(3).max(254), password: z.string().min(1).max(256) });
const refreshBody = z.object({ refreshToken: z.string().min(10).max(200) });
const logoutBody = z.object({ refreshToken: z.string().min(10).max(200).optional() });

export const authDocs: ApiDocs = {
  'POST /auth/login': { summary: 'Sign in with e-mail and password: an access token (15 min) and a rotating refresh token', body: loginBody, public: true },
  'POST /auth/refresh': { summary: 'Exchange a refresh token for new tokens (reuse of an old one revokes its whole family)', body: refreshBody, public: true },
  'POST /auth/logout': { summary: 'Revoke the refresh token', body: logoutBody },
  'GET /me': { summary: 'The signed-in user and their facility' },
};

/** /api/auth/* and /api/me. */
export function authRouter(auth: AuthService, conn: Connection): Router {
  const router = Router();
  const users = userModel(conn);
  const facilities = facilityModel(conn);

  router.post('/auth/login', async (req, res) => {
    const body = parseInput(loginBody, req.body);
    const pair: LoginResponse = await auth.login(body.email, body.password, req.context);
    res.json(pair);
  });

  router.post('/auth/refresh', async (req, res) => {
    const body = parseInput(refreshBody, req.body);
    const pair: LoginResponse = await auth.refresh(body.refreshToken, req.context);
    res.json(pair);
  });

  router.post('/auth/logout', requireAuth(auth.accessTokens), async (req, res) => {
    const body = parseInput(logoutBody, req.body ?? {});
    await auth.logout(callerOf(req).userId, body.refreshToken, req.context);
    res.status(204).end();
  });

  router.get('/me', requireAuth(auth.accessTokens), async (req, res) => {
    const caller = callerOf(req);
    const user = await users.findById(caller.userId).lean();
    if (!user || !user.active) throw new NotFoundError('Your account no longer exists or is disabled');
    const facility = await facilities.findById(user.facilityId).lean();
    const me: MeResponse = {
      id: user._id,
      email: user.email,
      displayName: user.displayName,
      role: user.role,
      specialty: user.specialty ?? null,
      locale: user.locale,
      facility: facility ? { id: facility._id, name: facility.name, tier: facility.tier, province: facility.province } : null,
    };
    res.json(me);
  });

  return router;
}
