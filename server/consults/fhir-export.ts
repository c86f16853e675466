/** A ConsultRequest as FHIR R4: ServiceRequest (the order) + Task (its workflow state); the report as DiagnosticReport. */
import type { ConsultStatus, ReportBody } from '../../contracts/consult-api';
import { CITIZEN_ID_SYSTEM, type FhirBundle, type FhirResource } from '../../contracts/fhir';
import type { ConsultRequest } from '../../models/consult-request';

export const HOICHAN_SD = 'http://hoichan.vn/fhir/StructureDefinition';
export const CONSULT_REPORT_ID_SYSTEM = 'http://hoichan.vn/fhir/sid/consult-report';
export const CONSULT_ID_SYSTEM = 'http://hoichan.vn/fhir/sid/consult';

const SERVICE_REQUEST_STATUS: Record<ConsultStatus, string> = {
  draft: 'draft',
  requested: 'active',
  accepted: 'active',
  scheduled: 'active',
  in_progress: 'active',
  reported: 'active',
  closed: 'completed',
  declined: 'revoked',
  cancelled: 'revoked',
  expired: 'revoked',
};
const TASK_STATUS: Record<ConsultStatus, string> = {
  draft: 'draft',
  requested: 'requested',
  accepted: 'accepted',
  scheduled: 'accepted',
  in_progress: 'in-progress',
  reported: 'completed',
  closed: 'completed',
  declined: 'rejected',
  cancelled: 'cancelled',
  expired: 'failed',
};
const PRIORITY = { routine: 'routine', urgent: 'urgent', emergency: 'stat' } as const;
const iso = (d: Date | null | undefined) => (d ? new Date(d).toISOString() : undefined);

export function toServiceRequest(c: ConsultRequest): FhirResource {
  return strip({
    resourceType: 'ServiceRequest',
    id: c._id,
    identifier: [{ system: CONSULT_ID_SYSTEM, value: c._id }],
    status: SERVICE_REQUEST_STATUS[c.status],
    intent: 'order',
    category: [{ coding: [{ system: 'http://snomed.info/sct', code: '11429006', display: 'Consultation' }] }],
    priority: PRIORITY[c.urgency],
    code: { text: `Remote consultation: ${c.requestedSpecialty}` },
    subject: { reference: `Patient/${c.patientId}` },
    occurrenceDateTime: iso(c.scheduledFor ?? c.preferredTime),
    authoredOn: iso(c.requestedAt ?? c.createdAt),
    requester: { reference: `Practitioner/${c.requesterId}` },
    performerType: { text: c.requestedSpecialty },
    performer: c.assignedSpecialistId ? [{ reference: `Practitioner/${c.assignedSpecialistId}` }] : undefined,
    reasonCode: [{ text: c.reason }],
    supportingInfo: c.imagingStudyIds.length ? c.imagingStudyIds.map((id) => ({ reference: `ImagingStudy/${id}` })) : undefined,
    note: [{ text: c.clinicalQuestion }],
    extension: [
      { url: `${HOICHAN_SD}/consult-shared-sections`, valueString: c.sharedSections.join(' ') },
      { url: `${HOICHAN_SD}/consult-requester-facility`, valueReference: { reference: `Organization/${c.requesterFacilityId}` } },
    ],
  });
}

export function toTask(c: ConsultRequest): FhirResource {
  return strip({
    resourceType: 'Task',
    id: `task-${c._id}`,
    status: TASK_STATUS[c.status],
    businessStatus: { text: c.status },
    intent: 'order',
    priority: PRIORITY[c.urgency],
    focus: { reference: `ServiceRequest/${c._id}` },
    for: { reference: `Patient/${c.patientId}` },
    authoredOn: iso(c.createdAt),
    lastModified: iso(c.updatedAt),
    requester: { reference: `Practitioner/${c.requesterId}` },
    owner: c.assignedSpecialistId ? { reference: `Practitioner/${c.assignedSpecialistId}` } : undefined,
    restriction: c.slaDeadline ? { period: { end: iso(c.slaDeadline) } } : undefined,
    executionPeriod: { start: iso(c.requestedAt), end: iso(c.closedAt) },
    statusReason: c.declineReason ? { text: c.declineReason } : undefined,
  });
}

export function consultBundle(c: ConsultRequest, report?: FhirResource, provenance?: FhirResource): FhirBundle {
  const entries = [toServiceRequest(c), toTask(c), ...(report ? [report] : []), ...(report && provenance ? [provenance] : [])];
  return {
    resourceType: 'Bundle',
    type: 'collection',
    timestamp: new Date().toISOString(),
    entry: entries.map((r) => ({ fullUrl: `urn:uuid:${r.resourceType}-${r.id}`, resource: r })),
  };
}

export interface ReportSubject {
  patientId: string;
  name?: string;
  citizenIdMasked?: string;
}

/**
 * The signed consult report. Everything the signature covers is in here, including the patient's
 * citizen id as the EMR gives it (masked) when it is available (Circular 13/2025/TT-BYT).
 */
export function toDiagnosticReport(input: {
  consult: ConsultRequest;
  version: number;
  body: ReportBody;
  subject: ReportSubject;
  signer: { userId: string; displayName: string; facilityId: string };
  issued: Date;
  replaces?: string;
}): FhirResource {
  const { consult, version, body, subject, signer } = input;
  const issued = input.issued.toISOString();
  return strip({
    resourceType: 'DiagnosticReport',
    id: `${consult._id}-v${version}`,
    identifier: [{ system: CONSULT_REPORT_ID_SYSTEM, value: `${consult._id}:v${version}` }],
    basedOn: [{ reference: `ServiceRequest/${consult._id}` }],
    status: version === 1 ? 'final' : 'amended',
    category: [
      { coding: [{ system: 'http://terminology.hl7.org/CodeSystem/v2-0074', code: 'OTH', display: 'Other' }], text: 'Remote consultation (hội chẩn từ xa)' },
    ],
    code: { coding: [{ system: 'http://loinc.org', code: '11488-4', display: 'Consult note' }] },
    subject: strip({
      reference: `Patient/${subject.patientId}`,
      display: subject.name,
      identifier: subject.citizenIdMasked ? { system: CITIZEN_ID_SYSTEM, value: subject.citizenIdMasked } : undefined,
    }),
    effectiveDateTime: issued,
    issued,
    performer: [{ reference: `Practitioner/${signer.userId}`, display: signer.displayName }, { reference: `Organization/${signer.facilityId}` }],
    resultsInterpreter: [{ reference: `Practitioner/${signer.userId}`, display: signer.displayName }],
    conclusion: body.impression ?? body.findings,
    conclusionCode: body.diagnosisCodes?.length
      ? body.diagnosisCodes.map((d) => ({ coding: [strip({ system: 'http://hl7.org/fhir/sid/icd-10', code: d.code, display: d.display })] }))
      : undefined,
    extension: [
      { url: `${HOICHAN_SD}/consult-findings`, valueString: body.findings },
      { url: `${HOICHAN_SD}/consult-recommendation`, valueString: body.recommendation },
      { url: `${HOICHAN_SD}/consult-report-version`, valueInteger: version },
      ...(input.replaces ? [{ url: `${HOICHAN_SD}/consult-report-replaces`, valueReference: { reference: `DiagnosticReport/${input.replaces}` } }] : []),
    ],
  });
}

/** The report for the patient's record: literal references to consult-store resources become identifier references. */
export function toRecordCopy(signed: Record<string, unknown>, consultId: string): FhirResource {
  const copy = JSON.parse(JSON.stringify(signed)) as FhirResource & { extension?: Array<Record<string, unknown>> };
  delete copy.id;
  copy.basedOn = [{ type: 'ServiceRequest', identifier: { system: CONSULT_ID_SYSTEM, value: consultId } }];
  copy.extension = (copy.extension ?? []).map((e) => {
    const ref = (e.valueReference as { reference?: string } | undefined)?.reference;
    if (e.url === `${HOICHAN_SD}/consult-report-replaces` && ref) {
      const previous = ref.replace(/^DiagnosticReport\/(.*)-v(\d+)$/, '$1:v$2');
      return { url: e.url, valueIdentifier: { system: CONSULT_REPORT_ID_SYSTEM, value: previous } };
    }
    return e;
  });
  return copy;
}

/** Drops undefined members so what is stored is exactly what was signed. */
function strip<T extends Record<string, unknown>>(o: T): T & FhirResource {
  return JSON.parse(JSON.stringify(o)) as T & FhirResource;
}
