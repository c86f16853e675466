import { createHmac } from 'node:crypto';
import type { IceServerInfo } from '../../contracts/sfu-api';

/**
 * Time-limited TURN credentials in coturn's `use-auth-secret` (TURN REST API) scheme:
 * username = `<expiry unix seconds>:<userId>`, credential = base64(HMAC-SHA1(secret, username)).
 */
export function turnCredentials(secret: string, userId: string, ttlS: number, nowMs = Date.now()): { username: string; credential: string; expiresAt: number } {
  const expiresAt = Math.floor(nowMs / 1000) + ttlS;
  const username = `${expiresAt}:${userId}`;
  const credential = createHmac('sha1', secret).update(username).digest('base64');
  return { username, credential, expiresAt };
}

/** The ICE servers handed to a browser: STUN entries as they are, TURN entries with fresh credentials. */
export function iceServersFor(userId: string, turn: { urls: string[]; secret: string | undefined; ttlS: number }, nowMs = Date.now()): IceServerInfo[] {
  const stun = turn.urls.filter((u) => u.startsWith('stun:'));
  const relays = turn.urls.filter((u) => u.startsWith('turn'));
  const servers: IceServerInfo[] = [];
  if (stun.length) servers.push({ urls: stun });
  if (relays.length && turn.secret) {
    const { username, credential } = turnCredentials(turn.secret, userId, turn.ttlS, nowMs);
    servers.push({ urls: relays, username, credential });
  }
  return servers;
}
