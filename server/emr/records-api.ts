import type { FhirBundle, FhirResource } from '../../contracts/fhir';
import type { Caller, RequestContext } from '../platform/request-context';

export type RecordAction = 'read' | 'write';

export interface AccessDecision {
  allow: boolean;
  /** Why, in words an auditor understands: "care team: fac-mocchau", "consult participant: <id>", "break-glass until ...", "no relationship". */
  reason: string;
  basis?: 'care-team' | 'consult' | 'break-glass' | 'admin';
}

/**
 * What the shared-EMR feature offers other features (consults, imaging). Implemented in server/emr.
 * Every method that takes a caller enforces the access policy and writes the audit entry itself.
 */
export interface PatientRecords {
  /** The access policy for one patient's record (no audit; callers that act on it audit). */
  checkAccess(caller: Caller, patientId: string, action: RecordAction): Promise<AccessDecision>;
  /** International Patient Summary-style document Bundle (Composition first). Throws 403/404. Audited. */
  summary(caller: Caller, patientId: string, ctx: RequestContext): Promise<FhirBundle>;
  /** Reads one resource of the patient's record. Throws 403/404. Audited. */
  read(caller: Caller, resourceType: string, id: string, ctx: RequestContext): Promise<FhirResource>;
  /**
   * Creates or updates (when `resource.id` is set) a resource on behalf of the caller after
   * validation; the resource must belong to `patientId`'s compartment. Audited; emits record.changed.
   */
  write(caller: Caller, patientId: string, resource: FhirResource, ctx: RequestContext): Promise<FhirResource>;
  /** Writes a resource produced by the platform itself (e.g. an AI triage Observation). Audited as the system. */
  writeAsSystem(patientId: string, resource: FhirResource, reason: string): Promise<FhirResource>;
  /** The patient's Consent to sharing their record for consultation ('permit' | 'deny' | 'none'). */
  consultSharing(patientId: string): Promise<'permit' | 'deny' | 'none'>;
  /** Display name and identifiers for lists (minimum necessary: name, birth date, gender, citizen id masked). */
  patientHeader(patientId: string): Promise<{ id: string; name: string; birthDate?: string; gender?: string; citizenIdMasked?: string } | null>;
}
