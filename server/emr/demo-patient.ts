/** The demo patient of the shared EMR: a district-clinic patient with a small, realistic record. Idempotent. */
import type { FhirResource } from '../../contracts/fhir';
import { CITIZEN_ID_SYSTEM, HEALTH_INSURANCE_SYSTEM } from '../../contracts/fhir';
import type { RecordService } from './record-service';
import type { WritePlan } from './resource-store';

export const DEMO_PATIENT_ID = 'pat-demo-hoa';
export const DEMO_CITIZEN_ID = '001090012345';
export const DEMO_REGISTERING_FACILITY = 'fac-mocchau';

const LOINC = 'http://loinc.org';
const SNOMED = 'http://snomed.info/sct';
const ICD10 = 'http://hl7.org/fhir/sid/icd-10';
const OBS_CAT = 'http://terminology.hl7.org/CodeSystem/observation-category';
const subject = { reference: `Patient/${DEMO_PATIENT_ID}` };
const daysAgo = (d: number) => new Date(Date.now() - d * 86_400_000).toISOString();

function vital(id: string, code: string, display: string, value: number, unit: string, ucum: string, when: string): FhirResource {
  return {
    resourceType: 'Observation',
    id,
    status: 'final',
    category: [{ coding: [{ system: OBS_CAT, code: 'vital-signs' }] }],
    code: { coding: [{ system: LOINC, code, display }], text: display },
    subject,
    effectiveDateTime: when,
    valueQuantity: { value, unit, system: 'http://unitsofmeasure.org', code: ucum },
  };
}
function lab(id: string, code: string, display: string, value: number, unit: string, when: string): FhirResource {
  return {
    resourceType: 'Observation',
    id,
    status: 'final',
    category: [{ coding: [{ system: OBS_CAT, code: 'laboratory' }] }],
    code: { coding: [{ system: LOINC, code, display }], text: display },
    subject,
    effectiveDateTime: when,
    valueQuantity: { value, unit, system: 'http://unitsofmeasure.org', code: unit },
  };
}
function condition(id: string, icd: string, display: string, onset: string): FhirResource {
  return {
    resourceType: 'Condition',
    id,
    clinicalStatus: { coding: [{ system: 'http://terminology.hl7.org/CodeSystem/condition-clinical', code: 'active' }] },
    verificationStatus: { coding: [{ system: 'http://terminology.hl7.org/CodeSystem/condition-ver-status', code: 'confirmed' }] },
    category: [{ coding: [{ system: 'http://terminology.hl7.org/CodeSystem/condition-category', code: 'problem-list-item' }] }],
    code: { coding: [{ system: ICD10, code: icd, display }], text: display },
    subject,
    onsetDateTime: onset,
  };
}
function medication(id: string, display: string, dosage: string): FhirResource {
  return {
    resourceType: 'MedicationStatement',
    id,
    status: 'active',
    medicationCodeableConcept: { text: display },
    subject,
    effectivePeriod: { start: daysAgo(400) },
    dosage: [{ text: dosage }],
  };
}

export function demoPatientRecord(): FhirResource[] {
  const enc = 'enc-demo-hoa-1';
  return [
    {
      resourceType: 'Patient',
      id: DEMO_PATIENT_ID,
      identifier: [
        { system: CITIZEN_ID_SYSTEM, value: DEMO_CITIZEN_ID },
        { system: HEALTH_INSURANCE_SYSTEM, value: 'HN4011234567890' },
      ],
      name: [{ use: 'official', text: 'Nguyễn Thị Hoa', family: 'Nguyễn', given: ['Thị', 'Hoa'] }],
      gender: 'female',
      birthDate: '1968-03-15',
      address: [{ text: 'Bản Áng, Đông Sang, Mộc Châu, Sơn La', district: 'Mộc Châu', state: 'Sơn La', country: 'VN' }],
      telecom: [{ system: 'phone', value: '0912345678' }],
      managingOrganization: { reference: 'Organization/fac-mocchau', display: 'Trung tâm Y tế huyện Mộc Châu' },
    },
    {
      resourceType: 'Consent',
      id: 'consent-demo-hoa',
      status: 'active',
      scope: { coding: [{ system: 'http://terminology.hl7.org/CodeSystem/consentscope', code: 'patient-privacy' }] },
      category: [{ coding: [{ system: LOINC, code: '59284-0', display: 'Patient Consent' }] }],
      patient: subject,
      dateTime: daysAgo(30),
      policyRule: { coding: [{ system: 'http://terminology.hl7.org/CodeSystem/v3-ActCode', code: 'OPTIN' }] },
      provision: { type: 'permit', purpose: [{ system: 'http://terminology.hl7.org/CodeSystem/v3-ActReason', code: 'TREAT', display: 'treatment' }] },
    },
    {
      resourceType: 'Encounter',
      id: enc,
      status: 'finished',
      class: { system: 'http://terminology.hl7.org/CodeSystem/v3-ActCode', code: 'AMB', display: 'ambulatory' },
      type: [{ text: 'Khám ngoại trú: ho kéo dài 3 tuần' }],
      subject,
      period: { start: daysAgo(2), end: daysAgo(2) },
      serviceProvider: { reference: 'Organization/fac-mocchau' },
    },
    condition('cond-demo-htn', 'I10', 'Tăng huyết áp vô căn (essential hypertension)', '2015-06-01'),
    condition('cond-demo-dm2', 'E11', 'Đái tháo đường type 2 (type 2 diabetes mellitus)', '2018-09-10'),
    condition('cond-demo-cough', 'R05', 'Ho kéo dài, nghi lao phổi (chronic cough, suspected pulmonary TB)', daysAgo(21)),
    {
      resourceType: 'AllergyIntolerance',
      id: 'allergy-demo-penicillin',
      clinicalStatus: { coding: [{ system: 'http://terminology.hl7.org/CodeSystem/allergyintolerance-clinical', code: 'active' }] },
      verificationStatus: { coding: [{ system: 'http://terminology.hl7.org/CodeSystem/allergyintolerance-verification', code: 'confirmed' }] },
      category: ['medication'],
      criticality: 'high',
      code: { coding: [{ system: SNOMED, code: '764146007', display: 'Penicillin' }], text: 'Penicillin' },
      patient: subject,
      reaction: [{ manifestation: [{ text: 'Mày đay, khó thở (urticaria, dyspnoea)' }] }],
    },
    medication('med-demo-amlodipine', 'Amlodipine 5 mg', '1 viên/ngày, uống buổi sáng'),
    medication('med-demo-metformin', 'Metformin 850 mg', '1 viên x 2 lần/ngày sau ăn'),
    vital('obs-demo-bp-sys', '8480-6', 'Systolic blood pressure', 148, 'mmHg', 'mm[Hg]', daysAgo(2)),
    vital('obs-demo-bp-dia', '8462-4', 'Diastolic blood pressure', 92, 'mmHg', 'mm[Hg]', daysAgo(2)),
    vital('obs-demo-hr', '8867-4', 'Heart rate', 96, 'beats/minute', '/min', daysAgo(2)),
    vital('obs-demo-temp', '8310-5', 'Body temperature', 37.9, 'Cel', 'Cel', daysAgo(2)),
    vital('obs-demo-spo2', '59408-5', 'Oxygen saturation', 94, '%', '%', daysAgo(2)),
    vital('obs-demo-weight', '29463-7', 'Body weight', 51, 'kg', 'kg', daysAgo(2)),
    lab('obs-demo-glucose', '2345-7', 'Glucose [Mass/volume] in Serum or Plasma', 162, 'mg/dL', daysAgo(2)),
    lab('obs-demo-hba1c', '4548-4', 'Hemoglobin A1c', 7.8, '%', daysAgo(2)),
    lab('obs-demo-wbc', '6690-2', 'Leukocytes [#/volume] in Blood', 11.2, '10*3/uL', daysAgo(2)),
  ];
}

/** Writes the demo patient once (fixed ids, so running it again changes nothing). */
export async function seedDemoPatient(service: RecordService): Promise<void> {
  if (await service.store.doc('Patient', DEMO_PATIENT_ID)) return;
  // Registered at the district clinic: that registration (not managingOrganization) puts it in the care team.
  const plans: WritePlan[] = demoPatientRecord().map((r) => ({
    method: 'PUT',
    type: r.resourceType,
    id: String(r.id),
    resource: r,
    ...(r.resourceType === 'Patient' ? { registeredByFacilityId: DEMO_REGISTERING_FACILITY } : {}),
  }));
  await service.commit({ kind: 'system', reason: 'demo seed' }, plans);
}
