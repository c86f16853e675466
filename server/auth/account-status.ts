/**
 * Revocation within seconds. An access token carries the user's `sessionVersion` (`ver`); every
 * request and every consult socket event compares the token with the account as it is now: active,
 * same role, same facility, same session version, facility active. The account is read from the
 * database at most every CACHE_MS per user (so a change made by another server process is seen
 * within that time); a change made here drops the cached entry at once and tells listeners, which
 * close the user's live sockets (and with them their calls).
 */
import type { Connection, Model } from 'mongoose';
import { facilityModel, type Facility } from '../../models/facility';
import { userModel, type User } from '../../models/user';
import { UnauthorizedError } from '../platform/errors';

/** How stale a cached account may be: the bound on revocation across processes (≤ 5 s asked for). */
export const ACCOUNT_STATUS_CACHE_MS = 2000;

export interface TokenIdentity {
  userId: string;
  role: string;
  facilityId: string;
  sessionVersion: number;
}

export interface Revocation {
  userId?: string;
  facilityId?: string;
  reason: string;
}

interface CachedAccount {
  at: number;
  user: (Pick<User, '_id' | 'active' | 'role' | 'facilityId'> & { sessionVersion?: number }) | null;
}

export class AccountStatus {
  readonly #users: Model<User>;
  readonly #facilities: Model<Facility>;
  readonly #accounts = new Map<string, CachedAccount>();
  readonly #facilityActive = new Map<string, { at: number; active: boolean }>();
  readonly #listeners: Array<(r: Revocation) => void> = [];

  constructor(
    conn: Connection,
    private readonly now: () => number = Date.now,
  ) {
    this.#users = userModel(conn);
    this.#facilities = facilityModel(conn);
  }

  /** Throws 401 when the token no longer matches the account (deactivated, role or facility changed, sessions revoked, facility deactivated). */
  async assertCurrent(t: TokenIdentity): Promise<void> {
    const problem = await this.problem(t);
    if (problem) throw new UnauthorizedError(`${problem}; sign in again`);
  }

  /** Why the token is no longer good, or null. */
  async problem(t: TokenIdentity): Promise<string | null> {
    const user = await this.#account(t.userId);
    if (!user || !user.active) return 'This account is disabled';
    if ((user.sessionVersion ?? 0) !== t.sessionVersion) return 'This session was revoked';
    if (user.role !== t.role || user.facilityId !== t.facilityId) return 'Your role or facility changed';
    if (!(await this.facilityActive(t.facilityId))) return 'Your facility is deactivated';
    return null;
  }

  async facilityActive(facilityId: string): Promise<boolean> {
    const hit = this.#facilityActive.get(facilityId);
    if (hit && this.now() - hit.at < ACCOUNT_STATUS_CACHE_MS) return hit.active;
    const f = await this.#facilities.findById(facilityId, { active: 1 }).lean();
    // eslint-disable-next-line @typescript-eslint/no-unnecessary-boolean-literal-compare -- runtime input: stored documents may lack the field; only an explicit value counts
    const active = !!f && f.active !== false;
    this.#facilityActive.set(facilityId, { at: this.now(), active });
    if (this.#facilityActive.size > 10000) this.#facilityActive.clear();
    return active;
  }

  /** Called after an account or facility changed here: forget the cache and close live sessions. */
  revoked(r: Revocation): void {
    if (r.userId) this.#accounts.delete(r.userId);
    if (r.facilityId) {
      this.#facilityActive.delete(r.facilityId);
      for (const [id, a] of this.#accounts) if (a.user?.facilityId === r.facilityId) this.#accounts.delete(id);
    }
    for (const l of this.#listeners) {
      try {
        l(r);
      } catch {
        /* a listener's failure must not stop the others */
      }
    }
  }

  forgetFacility(facilityId: string): void {
    this.#facilityActive.delete(facilityId);
  }

  onRevoked(listener: (r: Revocation) => void): () => void {
    this.#listeners.push(listener);
    return () => {
      const i = this.#listeners.indexOf(listener);
      if (i >= 0) this.#listeners.splice(i, 1);
    };
  }

  async #account(userId: string): Promise<CachedAccount['user']> {
    const hit = this.#accounts.get(userId);
    if (hit && this.now() - hit.at < ACCOUNT_STATUS_CACHE_MS) return hit.user;
    const user = await this.#users.findById(userId, { active: 1, role: 1, facilityId: 1, sessionVersion: 1 }).lean<CachedAccount['user']>();
    this.#accounts.set(userId, { at: this.now(), user });
    if (this.#accounts.size > 50000) this.#accounts.clear();
    return user;
  }
}
