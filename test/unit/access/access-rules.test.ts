/** Pure parts of the access model: which patients a search names, the consult window, the rule for resources outside compartments, the account check. */
import { AccountStatus } from '../../../server/auth/account-status';
import { consultWindowOpen, CONSULT_ACCESS_DAYS_AFTER_CLOSE } from '../../../server/consults/access';
import { DIRECTORY_TYPES, outsideRule } from '../../../server/emr/record-service';
import { namedPatients } from '../../../server/emr/search-service';

describe('namedPatients: a search that names patients is checked for each of them', () => {
  test.each([
    ['Observation', { patient: 'p1' }, ['p1']],
    ['Observation', { patient: 'Patient/p1,p2' }, ['p1', 'p2']],
    ['Observation', { subject: 'Patient/p1' }, ['p1']],
    ['Observation', { 'subject:Patient': 'p1' }, ['p1']],
    ['Observation', { subject: 'Group/g1' }, []],
    ['Observation', { 'subject:Group': 'g1' }, []],
    ['Observation', { patient: ['p1', 'p2'] }, ['p1', 'p2']],
    ['Patient', { _id: 'p1,p2' }, ['p1', 'p2']],
    ['Observation', { _id: 'o1' }, []],
    ['Condition', { code: 'E11' }, []],
    ['Coverage', { beneficiary: 'Patient/p3' }, ['p3']],
  ] as const)('%s %j → %j', (type, query, expected) => {
    expect(namedPatients(type, query as Record<string, string | string[]>).sort()).toEqual([...expected].sort());
  });
});

describe('consult window', () => {
  const day = 86_400_000;
  const now = Date.UTC(2026, 11, 1);
  test.each([
    ['requested', null, true],
    ['accepted', null, true],
    ['in_progress', null, true],
    ['reported', null, true],
    ['draft', null, false],
    ['declined', null, false],
    ['cancelled', null, false],
    ['expired', null, false],
    ['closed', now - 1 * day, true],
    ['closed', now - (CONSULT_ACCESS_DAYS_AFTER_CLOSE - 1) * day, true],
    ['closed', now - (CONSULT_ACCESS_DAYS_AFTER_CLOSE + 1) * day, false],
    ['closed', null, false],
  ] as const)('%s closed at %s → %s', (status, closedAt, open) => {
    expect(consultWindowOpen({ status, closedAt: closedAt === null ? null : new Date(closedAt) }, now)).toBe(open);
  });
});

describe('resources outside every compartment', () => {
  test('directory resources: anyone clinical or admin may create; only admins change or delete', () => {
    for (const type of DIRECTORY_TYPES) {
      expect(outsideRule(type, 'POST').roles).toEqual(expect.arrayContaining(['admin', 'referring_doctor', 'specialist', 'radiologist']));
      expect(outsideRule(type, 'PUT').roles).toEqual(['admin']);
      expect(outsideRule(type, 'DELETE').roles).toEqual(['admin']);
    }
  });
  test('shared clinical definitions: clinicians, never admins', () => {
    for (const m of ['POST', 'PUT', 'DELETE'] as const) {
      expect(outsideRule('Medication', m).roles).not.toContain('admin');
      expect(outsideRule('Medication', m).roles).toContain('specialist');
    }
  });
});

describe('AccountStatus: the token must match the account as it is now', () => {
  /** A connection stand-in answering findById from two maps (the class only reads users and facilities). */
  function fakeConn(users: Map<string, Record<string, unknown>>, facilities: Map<string, Record<string, unknown>>, reads: { n: number }) {
    const model = (rows: Map<string, Record<string, unknown>>) => ({
      findById: (id: string) => ({
        lean: async () => {
          reads.n++;
          return rows.get(id) ?? null;
        },
      }),
    });
    const models: Record<string, unknown> = { User: model(users), Facility: model(facilities) };
    return { models, model: (name: string) => models[name] } as never;
  }

  test('deactivation, role/facility change, session version and facility deactivation; cache ≤ 2 s', async () => {
    let t = 0;
    const users = new Map<string, Record<string, unknown>>([['u1', { _id: 'u1', active: true, role: 'specialist', facilityId: 'f1', sessionVersion: 2 }]]);
    const facilities = new Map<string, Record<string, unknown>>([['f1', { _id: 'f1', active: true }]]);
    const reads = { n: 0 };
    const status = new AccountStatus(fakeConn(users, facilities, reads), () => t);
    const token = { userId: 'u1', role: 'specialist', facilityId: 'f1', sessionVersion: 2 };
    expect(await status.problem(token)).toBeNull();
    expect(await status.problem({ ...token, sessionVersion: 1 })).toMatch(/revoked/);
    expect(await status.problem({ ...token, role: 'radiologist' })).toMatch(/role or facility/);
    users.set('u1', { ...users.get('u1'), active: false });
    expect(await status.problem(token)).toBeNull(); // cached
    t += 2000;
    expect(await status.problem(token)).toMatch(/disabled/); // seen within the cache time
    users.set('u1', { ...users.get('u1'), active: true });
    status.revoked({ userId: 'u1', reason: 'test' }); // a change made here: at once
    expect(await status.problem(token)).toBeNull();
    facilities.set('f1', { _id: 'f1', active: false });
    status.revoked({ facilityId: 'f1', reason: 'test' });
    expect(await status.problem(token)).toMatch(/facility is deactivated/);
    expect(await status.problem({ ...token, userId: 'nobody' })).toMatch(/disabled/);
  });

  test('listeners are told of revocations and one failing listener does not stop the others', async () => {
    const status = new AccountStatus(fakeConn(new Map(), new Map(), { n: 0 }));
    const seen: string[] = [];
    status.onRevoked(() => {
      throw new Error('boom');
    });
    const off = status.onRevoked((r) => seen.push(r.userId ?? r.facilityId ?? ''));
    status.revoked({ userId: 'u1', reason: 'x' });
    off();
    status.revoked({ userId: 'u2', reason: 'x' });
    expect(seen).toEqual(['u1']);
  });
});
