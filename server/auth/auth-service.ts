import { randomUUID } from 'node:crypto';
import type { Connection, Model } from 'mongoose';
import { refreshTokenModel, type RefreshToken } from '../../models/refresh-token';
import { userModel, type User } from '../../models/user';
import type { AuditLog } from '../audit/audit-log';
import { TooManyRequestsError, UnauthorizedError } from '../platform/errors';
import type { RequestContext } from '../platform/request-context';
import type { PlatformMetrics } from '../observability/metrics';
import { DUMMY_PASSWORD_HASH, verifyPassword } from './passwords';
import { AccountStatus } from './account-status';
import { AccessTokens, hashRefreshToken, newRefreshToken } from './tokens';
import { processSharedState, type AttemptLimiter, type SharedState } from '../platform/shared-state';

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
  readonly #accountLimiter: AttemptLimiter;
  readonly #ipLimiter: AttemptLimiter;
  /** The live account check (revocation within seconds); admins' changes go through revokeSessions(). */
  readonly status: AccountStatus;

  constructor(
    conn: Connection,
    readonly accessTokens: AccessTokens,
    private readonly audit: AuditLog,
    private readonly settings: AuthSettings,
    private readonly metrics: PlatformMetrics,
    shared: SharedState = processSharedState(),
  ) {
    this.#users = userModel(conn);
    this.#refreshTokens = refreshTokenModel(conn);
    this.status = new AccountStatus(conn);
    accessTokens.status = this.status;
    const rl = settings.loginRateLimit;
    this.#accountLimiter = shared.limiter('login-account', rl.maxFailuresPerAccount, rl.accountWindowS * 1000);
    this.#ipLimiter = shared.limiter('login-ip', rl.maxAttemptsPerIp, rl.ipWindowS * 1000);
  }

  async login(emailInput: string, password: string, ctx: RequestContext): Promise<TokenPair> {
    const email = emailInput.trim().toLowerCase();
    // Failures count per account *and* address: a stranger elsewhere cannot lock someone out.
    const pairKey = `${email}|${ctx.ip}`;
    const [ipWait, accountWait] = await Promise.all([this.#ipLimiter.retryAfterS(ctx.ip), this.#accountLimiter.retryAfterS(pairKey)]);
    if (ipWait > 0 || accountWait > 0) {
      this.metrics.logins.inc({ outcome: 'throttled' });
      await this.audit.record({
        kind: 'login',
        action: 'E',
        success: false,
        outcomeDesc: 'rate limited',
        agent: { login: email, ip: ctx.ip },
        requestId: ctx.requestId,
      });
      throw new TooManyRequestsError('Too many login attempts; try again later', Math.max(ipWait, accountWait));
    }
    await this.#ipLimiter.hit(ctx.ip);
    const user = await this.#users.findOne({ email }).lean();
    const ok = await verifyPassword(password, user?.passwordHash ?? (await DUMMY_PASSWORD_HASH));
    const facilityActive = user && ok && user.active ? await this.status.facilityActive(user.facilityId) : true;
    if (!user || !ok || !user.active || !facilityActive) {
      if (!user || !ok) await this.#accountLimiter.hit(pairKey);
      this.metrics.logins.inc({ outcome: 'failure' });
      await this.audit.record({
        kind: 'login',
        action: 'E',
        success: false,
        outcomeDesc: !user || !ok ? 'wrong email or password' : !user.active ? 'account disabled' : 'facility deactivated',
        agent: { login: email, ip: ctx.ip, userId: user?._id },
        requestId: ctx.requestId,
      });
      throw new UnauthorizedError(user && ok && user.active ? 'Your facility is deactivated on this platform' : 'Wrong email or password');
    }
    await this.#accountLimiter.reset(pairKey);
    this.metrics.logins.inc({ outcome: 'success' });
    const pair = await this.#issue(user, randomUUID());
    await this.audit.record({
      kind: 'login',
      action: 'E',
      success: true,
      agent: { userId: user._id, role: user.role, facilityId: user.facilityId, ip: ctx.ip },
      requestId: ctx.requestId,
    });
    return pair;
  }

  /** Uses a refresh token up and returns the next pair. A token presented twice revokes its whole family. */
  async refresh(token: string, ctx: RequestContext): Promise<TokenPair> {
    const tokenHash = hashRefreshToken(token);
    const now = new Date();
    const claimed = await this.#refreshTokens
      .findOneAndUpdate({ tokenHash, usedAt: null, revokedAt: null, expiresAt: { $gt: now } }, { $set: { usedAt: now } }, { new: true })
      .lean();
    if (!claimed) {
      const known = await this.#refreshTokens.findOne({ tokenHash }).lean();
      if (known && known.usedAt && !known.revokedAt) {
        await this.#revokeFamily(known.familyId, 'refresh token reuse detected');
        await this.audit.record({
          kind: 'token-refresh',
          action: 'E',
          success: false,
          outcomeDesc: 'refresh token reuse: session revoked',
          agent: { userId: known.userId, ip: ctx.ip },
          requestId: ctx.requestId,
        });
        throw new UnauthorizedError('Refresh token was already used; this session has been revoked, sign in again');
      }
      throw new UnauthorizedError(known?.revokedAt ? 'Refresh token revoked' : known ? 'Refresh token expired' : 'Unknown refresh token');
    }
    const user = await this.#users.findById(claimed.userId).lean();
    if (!user || !user.active || !(await this.status.facilityActive(user.facilityId))) {
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

  /**
   * Ends every session of a user now: refresh tokens revoked, the session version bumped (every
   * access token already issued stops working on the next request or socket event), live sockets closed.
   */
  async revokeSessions(userId: string, reason: string): Promise<void> {
    await this.#users.updateOne({ _id: userId }, { $inc: { sessionVersion: 1 } });
    await this.revokeAllForUser(userId, reason);
    this.status.revoked({ userId, reason });
  }

  /** A facility was deactivated: its staff's refresh tokens are revoked and their live sockets closed. */
  async revokeFacility(facilityId: string, reason: string): Promise<void> {
    const staff = await this.#users.find({ facilityId }, { _id: 1 }).lean();
    await this.#refreshTokens.updateMany(
      { userId: { $in: staff.map((u) => u._id) }, revokedAt: null },
      { $set: { revokedAt: new Date(), revokedReason: reason } },
    );
    this.status.revoked({ facilityId, reason });
  }

  /** A facility was reactivated: forget the cached state so its staff can sign in again at once. */
  facilityReactivated(facilityId: string): void {
    this.status.forgetFacility(facilityId);
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
      accessToken: this.accessTokens.sign({ sub: user._id, role: user.role, facility: user.facilityId, ver: user.sessionVersion ?? 0 }),
      refreshToken: token,
      tokenType: 'Bearer',
      expiresIn: this.settings.accessTokenTtlS,
    };
  }
}
