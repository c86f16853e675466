import { pushdownShape } from '../../../server/db/pushdown';

describe('pushdownShape (FerretDB pushes down top-level scalar equality only)', () => {
  test('hoists equalities out of $and and single-alternative $or', () => {
    expect(
      pushdownShape({
        $and: [
          {
            $and: [
              { type: 'Observation' },
              { deleted: false },
              { $or: [{ refs: 'patient|Patient/p1' }] },
              { $or: [{ tokens: 'code|http://loinc.org|8867-4' }] },
            ],
          },
          { $or: [{ patientId: { $in: ['p1'] } }, { patientId: { $exists: false } }] },
        ],
      }),
    ).toEqual({
      type: 'Observation',
      deleted: false,
      refs: 'patient|Patient/p1',
      tokens: 'code|http://loinc.org|8867-4',
      $and: [{ $or: [{ patientId: { $in: ['p1'] } }, { patientId: { $exists: false } }] }],
    });
  });
  test('a field used twice keeps its second condition, alternatives and ranges stay as they are', () => {
    expect(
      pushdownShape({
        $and: [
          { tokens: 'a' },
          { tokens: 'b' },
          { $or: [{ tokens: 'c' }, { tokens: 'd' }] },
          { lastUpdated: { $gt: new Date(0) } },
          { 'dateRanges.date.lo': { $gte: 1 } },
        ],
      }),
    ).toEqual({
      tokens: 'a',
      $and: [{ tokens: 'b' }, { $or: [{ tokens: 'c' }, { tokens: 'd' }] }, { lastUpdated: { $gt: new Date(0) } }, { 'dateRanges.date.lo': { $gte: 1 } }],
    });
  });
  test('leaves a filter that is already flat alone', () => {
    expect(pushdownShape({ patientId: 'p1', deleted: false })).toEqual({ patientId: 'p1', deleted: false });
  });
});
