import { randomUUID } from 'node:crypto';
import type { Connection, Model } from 'mongoose';
import { refreshTokenModel, type RefreshToken } from '../../models/refresh-token';
import { userModel, type User } from '../../models/user';
import type { AuditLog } from '../audit/audit-log';
import { TooManyRequestsError, UnauthorizedError } from '../http/errors';
import type { RequestContext } from '../http/request-context';
import type { PlatformMetrics } from '../observability/metrics';
import { DUMMY_PASSWORD_HASH, verifyPassword } from './passwords';
import { SlidingWindowLimiter } from './rate-limit';
import { AccessTokens, hashRefreshToken, newRefreshToken } from './tokens';

export interface AuthSettings {
  accessTokenTtlS: number;
  refreshTokenTtlS: number;
  loginRateLimit: { maxFailuresPerAccount: number; accountWindowS: number; maxAttemptsPerIp: number; ipWindowS: number };
}

export interface TokenPair {
  accessToken: string;
  refreshToken: string;
  tokenType: 'Bearer';
  expiresIn: number;
}

/** Login, refresh-token rotation with reuse detection, and logout. */
export class AuthService {
  readonly #users: Model<User>;
  readonly #refreshTokens: Model<RefreshToken>;
  readonly #accountLimiter: SlidingWindowLimiter;
  readonly #ipLimiter: SlidingWindowLimiter;

  constructor(
    conn: Connection,
    readonly accessTokens: AccessTokens,
    private readonly audit: AuditLog,
    private readonly settings: AuthSettings,
    private readonly metrics: PlatformMetrics,
  ) {
    this.#users = userModel(conn);
    this.#refreshTokens = refreshTokenModel(conn);
    const rl = settings.loginRateLimit;
    this.#accountLimiter = new SlidingWindowLimiter(rl.maxFailuresPerAccount, rl.accountWindowS * 1000);
    this.#ipLimiter = new SlidingWindowLimiter(rl.maxAttemptsPerIp, rl.ipWindowS * 1000);
  }

  async login(emailInput: string, password: string, ctx: RequestContext): Promise<TokenPair> {
    const email = emailInput.trim().toLowerCase();
    const ipWait = this.#ipLimiter.retryAfterS(ctx.ip);
    const accountWait = this.#accountLimiter.retryAfterS(email);
    if (ipWait > 0 || accountWait > 0) {
      this.metrics.logins.inc({ outcome: 'throttled' });
      await this.audit.record({ kind: 'login', action: 'E', success: false, outcomeDesc: 'rate limited', agent: { login: email, ip: ctx.ip }, requestId: ctx.requestId });
      throw new TooManyRequestsError('Too many login attempts; try again later', Math.max(ipWait, accountWait));
    }
    this.#ipLimiter.hit(ctx.ip);
    const user = await this.#users.findOne({ email }).lean();
    const ok = await verifyPassword(password, user?.passwordHash ?? (await DUMMY_PASSWORD_HASH));
    if (!user || !ok || !user.active) {
      this.#accountLimiter.hit(email);
      this.metrics.logins.inc({ outcome: 'failure' });
      await this.audit.record({
        kind: 'login',
        action: 'E',
        success: false,
        outcomeDesc: !user || !ok ? 'wrong email or password' : 'account disabled',
        agent: { login: email, ip: ctx.ip, userId: user?._id },
        requestId: ctx.requestId,
      });
      throw new UnauthorizedError('Wrong email or password');
    }
    this.#accountLimiter.reset(email);
    this.metrics.logins.inc({ outcome: 'success' });
    const pair = await this.#issue(user, randomUUID());
    await this.audit.record({ kind: 'login', action: 'E', success: true, agent: { userId: user._id, role: user.role, facilityId: user.facilityId, ip: ctx.ip }, requestId: ctx.requestId });
    return pair;
  }

  /** Uses a refresh token up and returns the next pair. A token presented twice revokes its whole family. */
  async refresh(token: string, ctx: RequestContext): Promise<TokenPair> {
    const tokenHash = hashRefreshToken(token);
    const now = new Date();
    const claimed = await this.#refreshTokens.findOneAndUpdate(
      { tokenHash, usedAt: null, revokedAt: null, expiresAt: { $gt: now } },
      { $set: { usedAt: now } },
      { new: true },
    ).lean();
    if (!claimed) {
      const known = await this.#refreshTokens.findOne({ tokenHash }).lean();
      if (known && known.usedAt && !known.revokedAt) {
        await this.#revokeFamily(known.familyId, 'refresh token reuse detected');
        await this.audit.record({ kind: 'token-refresh', action: 'E', success: false, outcomeDesc: 'refresh token reuse: session revoked', agent: { userId: known.userId, ip: ctx.ip }, requestId: ctx.requestId });
        throw new UnauthorizedError('Refresh token was already used; this session has been revoked, sign in again');
      }
      throw new UnauthorizedError(known?.revokedAt ? 'Refresh token revoked' : known ? 'Refresh token expired' : 'Unknown refresh token');
    }
    const user = await this.#users.findById(claimed.userId).lean();
    if (!user || !user.active) {
      await this.#revokeFamily(claimed.familyId, 'account disabled');
      throw new UnauthorizedError('Account disabled');
    }
    return this.#issue(user, claimed.familyId);
  }

  /** Revokes the session the refresh token belongs to, or every session of the caller. */
  async logout(userId: string, refreshToken: string | undefined, ctx: RequestContext): Promise<void> {
    if (refreshToken) {
      const known = await this.#refreshTokens.findOne({ tokenHash: hashRefreshToken(refreshToken), userId }).lean();
      if (known) await this.#revokeFamily(known.familyId, 'logout');
    } else {
      await this.revokeAllForUser(userId, 'logout everywhere');
    }
    await this.audit.record({ kind: 'logout', action: 'E', success: true, agent: { userId, ip: ctx.ip }, requestId: ctx.requestId });
  }

  async revokeAllForUser(userId: string, reason: string): Promise<void> {
    await this.#refreshTokens.updateMany({ userId, revokedAt: null }, { $set: { revokedAt: new Date(), revokedReason: reason } });
  }

  async #revokeFamily(familyId: string, reason: string): Promise<void> {
    await this.#refreshTokens.updateMany({ familyId, revokedAt: null }, { $set: { revokedAt: new Date(), revokedReason: reason } });
  }

  async #issue(user: User, familyId: string): Promise<TokenPair> {
    const { token, hash } = newRefreshToken();
    await this.#refreshTokens.create({
      _id: randomUUID(),
      tokenHash: hash,
      familyId,
      userId: user._id,
      expiresAt: new Date(Date.now() + this.settings.refreshTokenTtlS * 1000),
      usedAt: null,
      revokedAt: null,
    });
    return {
      accessToken: this.accessTokens.sign({ sub: user._id, role: user.role, facility: user.facilityId }),
      refreshToken: token,
      tokenType: 'Bearer',
      expiresIn: this.settings.accessTokenTtlS,
    };
  }
}
