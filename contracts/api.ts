/**
 * Types of the HTTP API shared by server/ and client/. The server builds its responses with
 * these types, the client reads them; neither re-declares them.
 */
export type UserRole = 'referring_doctor' | 'specialist' | 'radiologist' | 'admin';
export type FacilityTier = 'central' | 'provincial' | 'district' | 'commune';

export interface ApiError {
  error: string;
  message: string;
  path?: string[];
}

export interface LoginResponse {
  accessToken: string;
  refreshToken: string;
  tokenType: 'Bearer';
  /** Seconds until the access token expires. */
  expiresIn: number;
}

export interface FacilitySummary {
  id: string;
  name: string;
  tier: FacilityTier;
  province: string;
}

export interface MeResponse {
  id: string;
  email: string;
  displayName: string;
  role: UserRole;
  specialty: string | null;
  locale: 'vi' | 'en';
  facility: FacilitySummary | null;
}

export interface UserSummary {
  id: string;
  email: string;
  displayName: string;
  role: UserRole;
  facilityId: string;
  specialty: string | null;
  active: boolean;
  locale: 'vi' | 'en';
}

export interface FacilityDetail extends FacilitySummary {
  moHCode: string | null;
  active: boolean;
}

export interface AuditVerification {
  ok: boolean;
  entries: number;
  firstBadSeq?: number;
  problem?: 'altered' | 'removed' | 'chain-broken' | 'truncated' | 'rewritten';
  message: string;
}

export interface AuditEntrySummary {
  /** The entry's id: unique across the trail. */
  seq: number;
  /** The hash chain it belongs to (one per writing server process; 0 for the trail's first chain). */
  chain: number;
  /** Its place in that chain (1, 2, …). */
  entryInChain: number;
  recorded: string;
  kind: string;
  action: string;
  success: boolean;
  agentUserId: string | null;
  patientId: string | null;
  breakGlass: boolean;
  outcomeDesc: string | null;
  reason: string | null;
}

export interface HealthResponse {
  status: 'ok';
}
export interface ReadinessResponse {
  status: 'ready' | 'not_ready';
  database: 'up' | 'down';
}
