/** HTTP API types of the emr feature, shared by server/ and client/. */
import type { FhirBundle } from './fhir';

/** POST /api/emr/break-glass */
export interface BreakGlassRequest {
  patientId: string;
  /** Why emergency access is needed (at least 10 characters); shown to the admins who review it. */
  reason: string;
}

/** A break-glass grant (response of POST /api/emr/break-glass; items of GET /api/admin/break-glass). */
export interface BreakGlassGrant {
  id: string;
  userId: string;
  role: string;
  facilityId: string;
  patientId: string;
  reason: string;
  grantedAt: string;
  expiresAt: string;
  active: boolean;
}

/** Minimum-necessary header of a patient for lists. */
export interface PatientHeader {
  id: string;
  name: string;
  birthDate?: string;
  gender?: string;
  /** e.g. "********2345" */
  citizenIdMasked?: string;
}

/** GET /api/emr/patients: the patients the caller may access, with why. */
export interface EmrPatientListItem extends PatientHeader {
  access: 'care-team' | 'consult' | 'break-glass';
  careTeamFacilityIds: string[];
  lastUpdated: string;
}
export interface EmrPatientListResponse {
  patients: EmrPatientListItem[];
}

/** GET /api/emr/patients/:id/summary: the IPS-style document Bundle (Composition first). */
export type EmrPatientSummaryResponse = FhirBundle;
