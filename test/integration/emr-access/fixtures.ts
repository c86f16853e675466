/**
 * Fixtures for the EMR access tests: facilities and users made through the admin API, patients
 * registered and written through the FHIR API by their care team, consults and expired grants put
 * in the state a case needs directly in the database (a consult closed a month ago cannot be
 * produced any other way in a test).
 */
import { randomUUID } from 'node:crypto';
import { CITIZEN_ID_SYSTEM } from '../../../contracts/fhir';
import { consultRequestModel, type ConsultRequest } from '../../../models/consult-request';
import type { UserRole } from '../../../models/user';
import { DEMO, DEMO_PASSWORD, type TestPlatform } from '../../support/platform';

export const ICD10 = 'http://hl7.org/fhir/sid/icd-10';
export const FHIR_JSON = { 'content-type': 'application/fhir+json' };

export interface Staff {
  id: string;
  email: string;
  role: UserRole;
  facilityId: string;
  token: string;
}

export async function adminToken(tp: TestPlatform): Promise<string> {
  return (await tp.login(DEMO.admin)).accessToken;
}

export async function newFacility(tp: TestPlatform, admin: string, tier: 'central' | 'district', name = `Cơ sở ${randomUUID().slice(0, 8)}`): Promise<string> {
  const res = await tp.api('POST', '/api/admin/facilities', { token: admin, body: { name, tier, province: 'Hà Nội' } });
  if (res.status !== 201) throw new Error(`facility: ${res.status} ${JSON.stringify(res.body)}`);
  return res.body.id as string;
}

export async function newStaff(tp: TestPlatform, admin: string, role: UserRole, facilityId: string, specialty?: string): Promise<Staff> {
  const email = `${role}.${randomUUID().slice(0, 8)}@test.demo`;
  const res = await tp.api('POST', '/api/admin/users', {
    token: admin,
    body: { email, displayName: `${role} ${email.slice(0, 12)}`, role, facilityId, password: DEMO_PASSWORD, ...(specialty ? { specialty } : {}) },
  });
  if (res.status !== 201) throw new Error(`user: ${res.status} ${JSON.stringify(res.body)}`);
  const token = (await tp.login(email)).accessToken;
  return { id: res.body.id as string, email, role, facilityId, token };
}

export interface PatientFixture {
  id: string;
  cccd: string;
  observationId: string;
  /** Updated by write cases. */
  updatableId: string;
  deletedObservationId: string;
  binaryId: string;
}

/** A patient registered by `owner` (a referring doctor) with a small record, a Binary, a deleted Observation and a Consent. */
export async function newPatient(tp: TestPlatform, owner: Staff, consent: 'permit' | 'deny' | 'none'): Promise<PatientFixture> {
  const cccd = String(Math.floor(1e11 + Math.random() * 9e11));
  const fhir = (method: string, path: string, body?: unknown) => tp.api(method, `/fhir/R4${path}`, { token: owner.token, body, headers: FHIR_JSON });
  const p = await fhir('POST', '/Patient', {
    resourceType: 'Patient',
    identifier: [{ system: CITIZEN_ID_SYSTEM, value: cccd }],
    name: [{ text: `Bệnh nhân ${cccd.slice(-4)}` }],
    gender: 'female',
    birthDate: '1970-01-01',
  });
  if (p.status !== 201) throw new Error(`patient: ${p.status} ${JSON.stringify(p.body)}`);
  const id = p.body.id as string;
  const subject = { reference: `Patient/${id}` };
  const obs = (text: string) => ({ resourceType: 'Observation', status: 'final', code: { text }, subject, valueString: text });
  const entries: unknown[] = [
    { fullUrl: 'urn:uuid:o1', resource: obs('Ho khan'), request: { method: 'POST', url: 'Observation' } },
    { fullUrl: 'urn:uuid:o2', resource: obs('Sốt'), request: { method: 'POST', url: 'Observation' } },
    { fullUrl: 'urn:uuid:o3', resource: obs('Nhầm bệnh nhân'), request: { method: 'POST', url: 'Observation' } },
    {
      fullUrl: 'urn:uuid:c1',
      resource: {
        resourceType: 'Condition',
        subject,
        code: { coding: [{ system: ICD10, code: 'E11', display: 'Đái tháo đường type 2' }] },
        clinicalStatus: { coding: [{ system: 'http://terminology.hl7.org/CodeSystem/condition-clinical', code: 'active' }] },
      },
      request: { method: 'POST', url: 'Condition' },
    },
    {
      fullUrl: 'urn:uuid:b1',
      resource: { resourceType: 'Binary', contentType: 'text/plain', securityContext: subject, data: Buffer.from('kết quả xét nghiệm').toString('base64') },
      request: { method: 'POST', url: 'Binary' },
    },
  ];
  if (consent !== 'none') {
    entries.push({
      resource: {
        resourceType: 'Consent',
        status: 'active',
        scope: { coding: [{ system: 'http://terminology.hl7.org/CodeSystem/consentscope', code: 'patient-privacy' }] },
        category: [{ coding: [{ system: 'http://loinc.org', code: '59284-0' }] }],
        patient: subject,
        provision: { type: consent, purpose: [{ system: 'http://terminology.hl7.org/CodeSystem/v3-ActReason', code: 'TREAT' }] },
      },
      request: { method: 'POST', url: 'Consent' },
    });
  }
  const tx = await fhir('POST', '', { resourceType: 'Bundle', type: 'transaction', entry: entries });
  if (tx.status !== 200) throw new Error(`record: ${tx.status} ${JSON.stringify(tx.body)}`);
  const ids = (tx.body.entry as { fullUrl: string }[]).map((e) => e.fullUrl.split('/')[1] as string);
  const [observationId, updatableId, deletedObservationId, , binaryId] = ids as [string, string, string, string, string];
  const del = await fhir('DELETE', `/Observation/${deletedObservationId}`);
  if (del.status !== 204) throw new Error(`delete: ${del.status}`);
  return { id, cccd, observationId, updatableId, deletedObservationId, binaryId };
}

/** A consult for the patient with `member` among its participants, in the given state. */
export async function insertConsult(
  tp: TestPlatform,
  patientId: string,
  requester: Staff,
  member: Staff,
  state: 'accepted' | 'closed-long-ago' | 'closed-recently' | 'cancelled',
): Promise<string> {
  const consults = consultRequestModel(tp.platform.db.database.connection);
  const now = new Date();
  const closedAt =
    state === 'closed-long-ago' ? new Date(now.getTime() - 40 * 86_400_000) : state === 'closed-recently' ? new Date(now.getTime() - 86_400_000) : null;
  const id = randomUUID();
  const doc: ConsultRequest = {
    _id: id,
    status: state === 'accepted' ? 'accepted' : state === 'cancelled' ? 'cancelled' : 'closed',
    patientId,
    reason: 'Ho kéo dài',
    clinicalQuestion: 'Nghi lao phổi?',
    urgency: 'routine',
    requestedSpecialty: 'pulmonology',
    sharedSections: ['problems'],
    imagingStudyIds: [],
    preferredTime: null,
    scheduledFor: null,
    requesterId: requester.id,
    requesterFacilityId: requester.facilityId,
    assignedSpecialistId: member.role === 'specialist' ? member.id : null,
    participants: [
      { userId: requester.id, role: 'requester', facilityId: requester.facilityId, displayName: 'Requester', admitted: true, addedAt: now },
      {
        userId: member.id,
        role: member.role === 'specialist' ? 'specialist' : member.role === 'radiologist' ? 'radiologist' : 'invited',
        facilityId: member.facilityId,
        displayName: 'Member',
        admitted: true,
        addedAt: now,
      },
    ],
    stateTimes: { draft: now, requested: now, accepted: now },
    requestedAt: now,
    slaDeadline: null,
    overdueNotifiedAt: null,
    aiFlagSeverity: null,
    declineReason: null,
    cancelReason: null,
    closedAt,
    createdAt: now,
    updatedAt: now,
  };
  await consults.create(doc);
  return id;
}
