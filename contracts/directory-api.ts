/** HTTP API types of /api/directory: colleagues by name, names for ids, break-glass reviews. */
import type { UserRole } from './api';

export interface Colleague {
  id: string;
  displayName: string;
  role: UserRole;
  /** Code from the specialty list (client/src/lib/specialties.ts has the vi/en labels). */
  specialty?: string;
  facilityId: string;
  facilityName: string;
}

/** GET /api/directory/colleagues?q=&role= */
export interface ColleagueSearchResponse {
  colleagues: Colleague[];
}

/** GET /api/directory/names?users=&patients= — what the UI shows instead of ids. */
export interface NamesResponse {
  users: Record<string, { displayName: string; role: UserRole; facilityName: string }>;
  /** Only for administrators (the audit and break-glass screens); audited. */
  patients: Record<string, { name: string }>;
}

export interface BreakGlassReview {
  grantId: string;
  patientId: string;
  reviewerId: string;
  reviewerName: string;
  note: string;
  reviewedAt: string;
}

/** GET /api/directory/break-glass-reviews */
export interface BreakGlassReviewListResponse {
  reviews: BreakGlassReview[];
}

/** POST /api/directory/break-glass-reviews/:grantId */
export interface MarkBreakGlassReviewedBody {
  note: string;
}
