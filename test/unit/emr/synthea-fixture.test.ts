import { validateResource } from '../../../server/emr/validation';
import { syntheaTransactionBundle } from '../../fixtures/fhir/synthea-bundle';

test('the Synthea-shaped fixture is a valid R4 transaction of hundreds of resources, incl. Claim and ExplanationOfBenefit', () => {
  const { bundle, expect: ex } = syntheaTransactionBundle();
  const entries = bundle.entry ?? [];
  expect(entries.length).toBeGreaterThan(300);
  const types = new Set(entries.map((e) => e.resource?.resourceType));
  for (const t of [
    'Patient',
    'Claim',
    'ExplanationOfBenefit',
    'Encounter',
    'Observation',
    'Condition',
    'MedicationRequest',
    'Immunization',
    'AllergyIntolerance',
  ])
    expect(types.has(t)).toBe(true);
  for (const [i, e] of entries.entries()) expect({ i, issues: validateResource(e.resource) }).toEqual({ i, issues: [] });
  expect(ex.activeConditions.length).toBeGreaterThan(0);
  expect(syntheaTransactionBundle().bundle).toEqual(bundle); // deterministic
});
