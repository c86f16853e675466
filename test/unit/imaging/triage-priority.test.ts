/** Triage priority across findings on different scales (contracts/triage-priority.ts): pure logic. */
import { findingPriority, strongestFlag, triagePriority } from '../../../contracts/triage-priority';

// The shipped operating points: TB's raw heatmap maximum flags at 0.9865, the calibrated nodule probability at 0.178.
const tb = (score: number) => ({ finding: 'tb', score, flagged: score >= 0.9865, threshold: 0.9865 });
const nodule = (score: number) => ({ finding: 'nodule', score, flagged: score >= 0.178, threshold: 0.178 });

describe('triage priority', () => {
  test('each finding on its own operating point: 0.5 at its threshold, 1 at a score of 1, under 0.5 unflagged', () => {
    expect(findingPriority(tb(0.9865))).toBeCloseTo(0.5);
    expect(findingPriority(nodule(0.178))).toBeCloseTo(0.5);
    expect(findingPriority(tb(1))).toBeCloseTo(1);
    expect(findingPriority(nodule(0.589))).toBeCloseTo(0.75);
    expect(findingPriority(tb(0.95))).toBeLessThan(0.5);
    expect(findingPriority(nodule(0.1))).toBeCloseTo(0.5 * (0.1 / 0.178));
    // monotone in the score
    const scores = [0, 0.05, 0.17, 0.178, 0.3, 0.9, 1];
    const p = scores.map((s) => findingPriority(nodule(s)));
    expect([...p].sort((a, b) => a - b)).toEqual(p);
  });

  test('a high unflagged TB score never outranks a flagged nodule, though its raw number is larger', () => {
    expect(triagePriority([tb(0.97), nodule(0.2)])).toBeGreaterThanOrEqual(0.5);
    expect(triagePriority([tb(0.97), nodule(0.05)])).toBeLessThan(0.5);
    expect(strongestFlag([tb(0.97), nodule(0.2)])).toEqual({ finding: 'nodule', score: 0.2, threshold: 0.178 });
  });

  test('with two flags, the badge names the one furthest into its flagged range, not the larger raw score', () => {
    // TB 0.99 is 26 % of the way from 0.9865 to 1; nodule 0.6 is 51 % of the way from 0.178 to 1.
    expect(strongestFlag([tb(0.99), nodule(0.6)])?.finding).toBe('nodule');
    expect(strongestFlag([tb(0.999), nodule(0.3)])?.finding).toBe('tb');
    expect(strongestFlag([tb(0.5), nodule(0.1)])).toBeNull();
    expect(triagePriority([])).toBe(0);
  });

  test('findings stored without a threshold (older studies) keep flagged above unflagged', () => {
    expect(findingPriority({ finding: 'tb', score: 0.2, flagged: true })).toBeGreaterThanOrEqual(0.5);
    expect(findingPriority({ finding: 'tb', score: 0.99, flagged: false })).toBeLessThan(0.5);
    expect(findingPriority({ finding: 'tb', score: Number.NaN, flagged: false })).toBe(0);
  });
});
