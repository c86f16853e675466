import type { UserRole } from '../../models/user';

/** Who is calling: taken from a verified access token. */
export interface Caller {
  userId: string;
  role: UserRole;
  facilityId: string;
}

/**
 * What every request and socket event carries through the services: its id, the caller (once
 * authenticated) and the network address. Audit entries take their request id and address from it.
 */
export interface RequestContext {
  requestId: string;
  ip: string;
  caller?: Caller;
  /**
   * Aborted when the client goes away before its answer is sent, or when the request's deadline
   * passes (the reason is then a DomainError). Long work (Bundle entries, imports, loops) should
   * call `signal.throwIfAborted()` between steps so abandoned work stops. Absent on socket events.
   */
  signal?: AbortSignal;
}
