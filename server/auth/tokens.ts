import { createHash, createSecretKey, randomBytes, randomUUID, type KeyObject } from 'node:crypto';
import jwt from 'jsonwebtoken';
import { USER_ROLES, type UserRole } from '../../models/user';
import type { Caller } from '../platform/request-context';
import { UnauthorizedError } from '../platform/errors';
import type { AccountStatus } from './account-status';

const ALGORITHM = 'HS256' as const;

export interface AccessTokenSettings {
  secret: string;
  issuer: string;
  audience: string;
  ttlS: number;
}

/** Claims of an access token: `sub` (user id), `role`, `facility`, plus iss/aud/exp/iat/jti. */
export interface AccessClaims {
  sub: string;
  role: UserRole;
  facility: string;
  /** The account's session version when the token was issued (server/auth/account-status.ts). */
  ver?: number;
}

/** Signs and verifies short-lived access JWTs. The algorithm is pinned; issuer and audience are checked. */
export class AccessTokens {
  /** Set by AuthService: the live account check every request and socket event passes. */
  status: AccountStatus | undefined;

  /** The HMAC key, built once: given the secret as a string, jsonwebtoken rebuilds it on every sign and verify. */
  readonly #key: KeyObject;

  constructor(private readonly settings: AccessTokenSettings) {
    this.#key = createSecretKey(Buffer.from(settings.secret, 'utf8'));
  }

  sign(claims: AccessClaims): string {
    return jwt.sign({ role: claims.role, facility: claims.facility, ver: claims.ver ?? 0 }, this.#key, {
      algorithm: ALGORITHM,
      subject: claims.sub,
      issuer: this.settings.issuer,
      audience: this.settings.audience,
      expiresIn: this.settings.ttlS,
      jwtid: randomUUID(),
    });
  }

  /** Verifies the signature and claims, then that the account still matches (active, role, facility, session version). */
  async verifyCurrent(token: string): Promise<Caller> {
    const caller = this.verify(token);
    await this.status?.assertCurrent({ ...caller, sessionVersion: this.sessionVersionOf(token) });
    return caller;
  }

  /** The `ver` claim of an already verified token (0 for tokens issued before it existed). */
  sessionVersionOf(token: string): number {
    try {
      const payload = JSON.parse(Buffer.from(token.split('.')[1] ?? '', 'base64url').toString('utf8')) as { ver?: unknown };
      return typeof payload.ver === 'number' ? payload.ver : 0;
    } catch {
      return 0;
    }
  }

  /** Verifies a token and returns the caller, or throws a 401 saying what was wrong. */
  verify(token: string): Caller {
    let payload: string | jwt.JwtPayload;
    try {
      payload = jwt.verify(token, this.#key, {
        algorithms: [ALGORITHM],
        issuer: this.settings.issuer,
        audience: this.settings.audience,
      });
    } catch (err) {
      if (err instanceof jwt.TokenExpiredError) throw new UnauthorizedError('Access token expired');
      if (err instanceof jwt.JsonWebTokenError) throw new UnauthorizedError(`Invalid access token: ${err.message}`);
      throw new UnauthorizedError('Invalid access token');
    }
    if (typeof payload === 'string') throw new UnauthorizedError('Invalid access token: unexpected payload');
    const role = payload.role as unknown;
    if (typeof payload.sub !== 'string' || typeof payload.facility !== 'string' || !USER_ROLES.includes(role as UserRole)) {
      throw new UnauthorizedError('Invalid access token: missing claims');
    }
    return { userId: payload.sub, role: role as UserRole, facilityId: payload.facility };
  }
}

/** An opaque refresh token and the SHA-256 under which it is stored. */
export function newRefreshToken(): { token: string; hash: string } {
  const token = randomBytes(32).toString('base64url');
  return { token, hash: hashRefreshToken(token) };
}

export function hashRefreshToken(token: string): string {
  return createHash('sha256').update(token, 'utf8').digest('hex');
}

export function bearerToken(header: string | undefined): string | null {
  if (!header) return null;
  const m = /^Bearer\s+([A-Za-z0-9._~+/=-]+)$/i.exec(header.trim());
  return m?.[1] ?? null;
}
