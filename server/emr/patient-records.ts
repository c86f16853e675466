/** The PatientRecords API other features (consults, imaging) use; every method enforces and audits. */
import type { FhirBundle, FhirResource } from '../../contracts/fhir';
import { CITIZEN_ID_SYSTEM } from '../../contracts/fhir';
import type { PatientHeader } from '../../contracts/emr-api';
import { InvalidInputError, NotFoundError } from '../platform/errors';
import type { Caller, RequestContext } from '../platform/request-context';
import type { RecordService } from './record-service';
import type { PatientRecords } from './records-api';
import { extractKeys } from './search-params';
import { buildSummary } from './summary';

export const DEFAULT_BASE_URL = 'urn:hoichan:fhir:R4';

export function headerOf(patient: FhirResource): PatientHeader {
  const names = Array.isArray(patient.name) ? (patient.name as { text?: string; family?: string; given?: string[] }[]) : [];
  const n = names[0];
  const name = n ? (n.text ?? [n.family, ...(n.given ?? [])].filter(Boolean).join(' ')) : '(no name)';
  const ids = Array.isArray(patient.identifier) ? (patient.identifier as { system?: string; value?: string }[]) : [];
  const cccd = ids.find((i) => i.system === CITIZEN_ID_SYSTEM)?.value;
  return {
    id: String(patient.id),
    name,
    ...(typeof patient.birthDate === 'string' ? { birthDate: patient.birthDate } : {}),
    ...(typeof patient.gender === 'string' ? { gender: patient.gender } : {}),
    ...(cccd ? { citizenIdMasked: `${'*'.repeat(Math.max(0, cccd.length - 4))}${cccd.slice(-4)}` } : {}),
  };
}

export async function patientSummary(
  service: RecordService,
  caller: Caller,
  patientId: string,
  ctx: RequestContext | undefined,
  baseUrl = DEFAULT_BASE_URL,
): Promise<FhirBundle> {
  const resources = await service.compartment(caller, patientId, ctx, '$summary');
  const patient = resources.find((r) => r.resourceType === 'Patient' && r.id === patientId);
  if (!patient) throw new NotFoundError(`Patient/${patientId} is not known`);
  return buildSummary(patient, resources, baseUrl);
}

export function createPatientRecords(service: RecordService): PatientRecords {
  const assertCompartment = (patientId: string, resource: FhirResource) => {
    service.validate(resource);
    const inCompartment = extractKeys({ ...resource, id: resource.id ?? 'new' }).patientId;
    const expected = resource.resourceType === 'Patient' ? resource.id : inCompartment;
    if (expected !== patientId)
      throw new InvalidInputError(`${resource.resourceType} does not belong to Patient/${patientId}`, [`${resource.resourceType}.subject`]);
  };
  return {
    checkAccess: (caller, patientId, action) => service.access.check(caller, patientId, action),
    consultSharing: (patientId) => service.access.consentOf(patientId),
    summary: (caller, patientId, ctx) => patientSummary(service, caller, patientId, ctx),
    read: (caller, resourceType, id, ctx) => service.read(caller, resourceType, id, ctx),
    async write(caller, patientId, resource, ctx) {
      assertCompartment(patientId, resource);
      const actor = { kind: 'user' as const, caller };
      const r = resource.id
        ? await service.update(actor, resource.resourceType, resource.id, resource, undefined, ctx)
        : await service.create(actor, resource, ctx);
      return r.resource as FhirResource;
    },
    async writeAsSystem(patientId, resource, reason) {
      assertCompartment(patientId, resource);
      const actor = { kind: 'system' as const, reason };
      const r = resource.id ? await service.update(actor, resource.resourceType, resource.id, resource, undefined) : await service.create(actor, resource);
      return r.resource as FhirResource;
    },
    async patientHeader(patientId) {
      const doc = await service.store.doc('Patient', patientId);
      return doc && !doc.deleted && doc.resource ? headerOf(doc.resource) : null;
    },
  };
}
