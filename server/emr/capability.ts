/** The CapabilityStatement served at GET /fhir/R4/metadata. */
import type { FhirResource } from '../../contracts/fhir';
import { SUMMARY_SECTIONS } from './summary';

const CLINICAL_PARAMS = [
  { name: 'patient', type: 'reference' },
  { name: 'subject', type: 'reference' },
  { name: 'category', type: 'token' },
  { name: 'code', type: 'token' },
  { name: 'date', type: 'date' },
  { name: 'status', type: 'token' },
];
const TYPES = [
  'Patient',
  'Practitioner',
  'Organization',
  'Encounter',
  'Condition',
  'Observation',
  'AllergyIntolerance',
  'MedicationStatement',
  'MedicationRequest',
  'Immunization',
  'Procedure',
  'CarePlan',
  'CareTeam',
  'EpisodeOfCare',
  'DiagnosticReport',
  'ImagingStudy',
  'DocumentReference',
  'Consent',
  'Claim',
  'ExplanationOfBenefit',
];

export function capabilityStatement(baseUrl: string): FhirResource {
  return {
    resourceType: 'CapabilityStatement',
    status: 'active',
    date: '2026-01-01',
    kind: 'instance',
    software: { name: 'hoichan shared EMR' },
    implementation: { description: 'Hội chẩn từ xa: shared patient record', url: baseUrl },
    fhirVersion: '4.0.1',
    format: ['application/fhir+json', 'json'],
    rest: [
      {
        mode: 'server',
        documentation: `Every request except this one needs a bearer token. Access to a patient's record follows the care team, consult participation with Consent, or break-glass. Any valid R4 resource type can be stored; the types listed are searchable. $summary sections: ${SUMMARY_SECTIONS.map((s) => s.key).join(', ')}.`,
        security: { cors: false, service: [{ coding: [{ system: 'http://terminology.hl7.org/CodeSystem/restful-security-service', code: 'OAuth' }] }] },
        resource: TYPES.map((type) => ({
          type,
          versioning: 'versioned',
          readHistory: true,
          updateCreate: true,
          conditionalCreate: true,
          conditionalUpdate: false,
          interaction: ['read', 'vread', 'update', 'delete', 'history-instance', 'create', 'search-type'].map((code) => ({ code })),
          searchParam: [
            { name: '_id', type: 'token' },
            { name: '_lastUpdated', type: 'date' },
            ...(type === 'Patient'
              ? [
                  { name: 'identifier', type: 'token' },
                  { name: 'name', type: 'string' },
                  { name: 'birthdate', type: 'date' },
                  { name: 'gender', type: 'token' },
                ]
              : CLINICAL_PARAMS),
          ],
          ...(type === 'Patient'
            ? {
                operation: [
                  { name: 'everything', definition: 'http://hl7.org/fhir/OperationDefinition/Patient-everything' },
                  { name: 'summary', definition: 'http://hl7.org/fhir/uv/ips/OperationDefinition/summary' },
                ],
              }
            : {}),
        })),
        interaction: [{ code: 'transaction' }, { code: 'batch' }],
      },
    ],
  };
}
