/**
 * An in-memory PatientRecords for the imaging tests while the EMR (server/emr) is being built:
 * the same policy shape (care team by facility, consult participation), the EMR's real R4
 * validation (server/emr/validation.ts) and reference checks on every write.
 */
import { randomUUID } from 'node:crypto';
import type { FhirResource } from '../../../contracts/fhir';
import type { AccessDecision, PatientRecords, RecordAction } from '../../../server/emr/records-api';
import { validateResource } from '../../../server/emr/validation';
import type { Caller } from '../../../server/platform/request-context';

export interface FakePatient {
  id: string;
  name: string;
  birthDate?: string;
  gender?: string;
  careTeamFacilityIds: string[];
}

export class FakeRecords implements PatientRecords {
  readonly patients = new Map<string, FakePatient>();
  /** "userId|patientId" of consult participants. */
  readonly consultGrants = new Set<string>();
  readonly resources = new Map<string, FhirResource>();
  readonly writes: { patientId: string; resource: FhirResource; reason: string }[] = [];
  failWrites = false;
  checkAccessCalls = 0;

  addPatient(p: FakePatient): void {
    this.patients.set(p.id, p);
  }

  grantConsult(userId: string, patientId: string): void {
    this.consultGrants.add(`${userId}|${patientId}`);
  }

  async consultSharing(patientId: string): Promise<'permit' | 'deny' | 'none'> {
    return this.patients.has(patientId) ? 'permit' : 'none';
  }

  async checkAccess(caller: Caller, patientId: string, _action: RecordAction): Promise<AccessDecision> {
    this.checkAccessCalls++;
    const p = this.patients.get(patientId);
    if (!p) return { allow: false, reason: 'no such patient' };
    if (caller.role === 'admin') return { allow: false, reason: 'admin has no clinical access' };
    if (p.careTeamFacilityIds.includes(caller.facilityId)) return { allow: true, basis: 'care-team', reason: `care team: ${caller.facilityId}` };
    if (this.consultGrants.has(`${caller.userId}|${patientId}`)) return { allow: true, basis: 'consult', reason: 'consult participant' };
    return { allow: false, reason: 'no relationship' };
  }

  async writeAsSystem(patientId: string, resource: FhirResource, reason: string): Promise<FhirResource> {
    if (this.failWrites) throw new Error('EMR unavailable (test)');
    const issues = validateResource(resource);
    if (issues.length) throw new Error(`invalid ${resource.resourceType}: ${issues.map((i) => i.message).join('; ')}`);
    const refs = JSON.stringify(resource).match(/"reference":"([A-Za-z]+\/[A-Za-z0-9\-.]+)"/g) ?? [];
    for (const r of refs) {
      const key = r.slice(13, -1);
      if (key.startsWith('Patient/') && !this.patients.has(key.slice(8))) throw new Error(`${key} does not exist`);
      if (/^(ImagingStudy|Observation)\//.test(key) && !this.resources.has(key)) throw new Error(`${key} does not exist`);
    }
    if ((resource.subject as { reference?: string } | undefined)?.reference !== `Patient/${patientId}`)
      throw new Error('resource outside the patient compartment');
    const stored = { ...resource, id: resource.id ?? randomUUID() };
    this.resources.set(`${stored.resourceType}/${stored.id}`, stored);
    this.writes.push({ patientId, resource: stored, reason });
    return stored;
  }

  async patientHeader(patientId: string) {
    const p = this.patients.get(patientId);
    return p
      ? {
          id: p.id,
          name: p.name,
          ...(p.birthDate ? { birthDate: p.birthDate } : {}),
          ...(p.gender ? { gender: p.gender } : {}),
          citizenIdMasked: '0010******89',
        }
      : null;
  }

  summary(): never {
    throw new Error('not used by imaging');
  }
  read(): never {
    throw new Error('not used by imaging');
  }
  write(): never {
    throw new Error('not used by imaging');
  }
}
