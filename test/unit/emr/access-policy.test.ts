import { consentDecision, decideAccess, type AccessFacts, type ConsentDecision } from '../../../server/emr/access-policy';

const now = new Date('2026-01-01T00:00:00Z');
const roles = ['referring_doctor', 'specialist', 'radiologist', 'admin'] as const;
const relationships = ['care-team', 'consult', 'none'] as const;
const consents: ConsentDecision[] = ['permit', 'deny', 'none'];
const breakGlass = ['active', 'expired', 'none'] as const;

function facts(
  role: string,
  rel: (typeof relationships)[number],
  consent: ConsentDecision,
  bg: (typeof breakGlass)[number],
  action: 'read' | 'write',
): AccessFacts {
  return {
    caller: { userId: 'u1', role, facilityId: 'fac-a' },
    patientId: 'p1',
    action,
    careTeamFacilityIds: rel === 'care-team' ? ['fac-x', 'fac-a'] : ['fac-x'],
    consultParticipant: rel === 'consult',
    consent,
    breakGlassUntil: bg === 'active' ? new Date(now.getTime() + 60_000) : bg === 'expired' ? new Date(now.getTime() - 1) : undefined,
    now,
  };
}

describe('access policy matrix: role × relationship × consent × break-glass × action', () => {
  const cases = roles.flatMap((role) =>
    relationships.flatMap((rel) =>
      consents.flatMap((consent) => breakGlass.flatMap((bg) => (['read', 'write'] as const).map((action) => [role, rel, consent, bg, action] as const))),
    ),
  );
  test.each(cases)('%s / %s / consent %s / break-glass %s / %s', (role, rel, consent, bg, action) => {
    const d = decideAccess(facts(role, rel, consent, bg, action));
    const expected = role !== 'admin' && (rel === 'care-team' || (rel === 'consult' && consent === 'permit') || bg === 'active');
    expect(d.allow).toBe(expected);
    if (expected) expect(d.basis).toBe(rel === 'care-team' ? 'care-team' : rel === 'consult' && consent === 'permit' ? 'consult' : 'break-glass');
    else expect(d.reason.length).toBeGreaterThan(10);
  });
  test('an admin is told the role gives no clinical access, even at a care-team facility', () => {
    expect(decideAccess(facts('admin', 'care-team', 'permit', 'active', 'read')).reason).toMatch(/admin role/);
  });
});

describe('Consent decision', () => {
  const permit = {
    resourceType: 'Consent',
    status: 'active',
    provision: { type: 'permit', purpose: [{ system: 'http://terminology.hl7.org/CodeSystem/v3-ActReason', code: 'TREAT' }] },
  };
  test.each([
    ['no consent', [], 'none'],
    ['active permit for treatment', [permit], 'permit'],
    ['inactive permit', [{ ...permit, status: 'inactive' }], 'none'],
    ['permit without purpose', [{ ...permit, provision: { type: 'permit' } }], 'none'],
    ['permit for another purpose', [{ ...permit, provision: { type: 'permit', purpose: [{ code: 'HMARKT' }] } }], 'none'],
    ['deny wins over permit', [permit, { ...permit, provision: { type: 'deny' } }], 'deny'],
    ['expired permit', [{ ...permit, provision: { ...permit.provision, period: { end: '2025-01-01' } } }], 'none'],
  ])('%s', (_name, list, expected) => {
    expect(consentDecision(list as Record<string, unknown>[], now)).toBe(expected);
  });
});
