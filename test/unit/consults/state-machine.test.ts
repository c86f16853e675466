import { CONSULT_ACTIONS, CONSULT_STATUSES, type ConsultAction, type ConsultStatus } from '../../../contracts/consult-api';
import { availableActions, decideTransition, TRANSITIONS, type Actor, type ConsultFacts } from '../../../server/consults/state-machine';

const requester: Actor = {
  userId: 'usr-referrer',
  role: 'referring_doctor',
  facilityId: 'fac-mocchau',
  facilityTier: 'district',
  specialty: 'general practice',
};
const specialist: Actor = { userId: 'usr-specialist', role: 'specialist', facilityId: 'fac-bachmai', facilityTier: 'central', specialty: 'pulmonology' };
const otherSpecialist: Actor = { userId: 'usr-spec2', role: 'specialist', facilityId: 'fac-bachmai', facilityTier: 'central', specialty: 'Pulmonology' };
const cardiologist: Actor = { userId: 'usr-cardio', role: 'specialist', facilityId: 'fac-bachmai', facilityTier: 'central', specialty: 'cardiology' };
const districtSpecialist: Actor = { userId: 'usr-dist', role: 'specialist', facilityId: 'fac-bacha', facilityTier: 'district', specialty: 'pulmonology' };
const otherReferrer: Actor = { userId: 'usr-other', role: 'referring_doctor', facilityId: 'fac-bacha', facilityTier: 'district', specialty: null };

const facts = (status: ConsultStatus, assigned: string | null = 'usr-specialist'): ConsultFacts => ({
  status,
  requesterId: 'usr-referrer',
  requestedSpecialty: 'pulmonology',
  assignedSpecialistId: assigned,
});

// [action, from, actor, expected: target state | 409 | 403]
const table: Array<[ConsultAction, ConsultStatus, Actor, ConsultStatus | 409 | 403]> = [
  ['submit', 'draft', requester, 'requested'],
  ['submit', 'draft', otherReferrer, 403],
  ['submit', 'requested', requester, 409],
  ['accept', 'requested', specialist, 'accepted'],
  ['accept', 'requested', otherSpecialist, 'accepted'], // specialty match is case-insensitive
  ['accept', 'requested', cardiologist, 403],
  ['accept', 'requested', districtSpecialist, 403],
  ['accept', 'requested', requester, 403],
  ['accept', 'accepted', specialist, 409],
  ['accept', 'draft', specialist, 409],
  ['decline', 'requested', specialist, 'declined'],
  ['decline', 'requested', cardiologist, 403],
  ['decline', 'accepted', specialist, 409],
  ['schedule', 'accepted', specialist, 'scheduled'],
  ['schedule', 'scheduled', specialist, 'scheduled'],
  ['schedule', 'accepted', otherSpecialist, 403],
  ['schedule', 'requested', specialist, 409],
  ['start', 'accepted', specialist, 'in_progress'],
  ['start', 'scheduled', specialist, 'in_progress'],
  ['start', 'scheduled', requester, 403],
  ['start', 'reported', specialist, 409],
  ['report', 'accepted', specialist, 'reported'], // store-and-forward: no call needed
  ['report', 'scheduled', specialist, 'reported'],
  ['report', 'in_progress', specialist, 'reported'],
  ['report', 'in_progress', requester, 403],
  ['report', 'requested', specialist, 409],
  ['report', 'reported', specialist, 409],
  ['close', 'reported', requester, 'closed'],
  ['close', 'reported', specialist, 'closed'],
  ['close', 'reported', otherSpecialist, 403],
  ['close', 'in_progress', requester, 409],
  ['close', 'closed', requester, 409],
  ['cancel', 'draft', requester, 'cancelled'],
  ['cancel', 'requested', requester, 'cancelled'],
  ['cancel', 'accepted', requester, 'cancelled'],
  ['cancel', 'scheduled', requester, 'cancelled'],
  ['cancel', 'requested', specialist, 403],
  ['cancel', 'in_progress', requester, 409],
  ['cancel', 'reported', requester, 409],
  ['cancel', 'expired', requester, 409],
  ['cancel', 'declined', requester, 409],
];

describe('consult state machine', () => {
  test.each(table)('%s from %s by %o → %s', (action, from, actor, expected) => {
    const d = decideTransition(action, actor, facts(from, from === 'requested' || from === 'draft' ? null : 'usr-specialist'));
    if (typeof expected === 'string') {
      expect(d).toEqual({ ok: true, from, to: expected });
    } else {
      expect(d.ok).toBe(false);
      if (!d.ok) {
        expect(d.kind).toBe(expected === 409 ? 'conflict' : 'forbidden');
        expect(d.message).toMatch(new RegExp(`^Cannot ${action}`));
      }
    }
  });

  test('a 409 message names the state and the action', () => {
    const d = decideTransition('accept', specialist, facts('closed'));
    expect(d).toEqual({ ok: false, kind: 'conflict', message: expect.stringMatching(/accept.*closed/) });
  });

  test('terminal states allow no action at all', () => {
    for (const s of ['closed', 'declined', 'cancelled', 'expired'] as const) {
      for (const a of CONSULT_ACTIONS) expect(decideTransition(a, requester, facts(s)).ok).toBe(false);
    }
  });

  test('every state is reachable from draft', () => {
    const reached = new Set<ConsultStatus>(['draft', 'expired']); // expired is reached by the sweeper
    let grew = true;
    while (grew) {
      grew = false;
      for (const rule of Object.values(TRANSITIONS)) {
        if (rule.from.some((f) => reached.has(f)) && !reached.has(rule.to)) {
          reached.add(rule.to);
          grew = true;
        }
      }
    }
    expect([...reached].sort()).toEqual([...CONSULT_STATUSES].sort());
  });

  test('available actions for the buttons', () => {
    expect(availableActions(specialist, facts('requested', null)).sort()).toEqual(['accept', 'decline']);
    expect(availableActions(requester, facts('accepted')).sort()).toEqual(['cancel']);
    expect(availableActions(specialist, facts('accepted')).sort()).toEqual(['report', 'schedule', 'start']);
  });
});
