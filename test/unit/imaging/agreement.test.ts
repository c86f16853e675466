import { agreement, iou, type ReviewedFinding } from '../../../server/imaging/agreement';
import { reviewStatusOf } from '../../../server/imaging/worklist-service';

const box = (x_min: number, y_min: number, x_max: number, y_max: number) => ({ x_min, y_min, x_max, y_max });
const lesion = (finding: 'tb' | 'nodule', b: ReturnType<typeof box>) => ({ finding, score: 0.9, ...b });

describe('iou', () => {
  test('identical, disjoint, half overlap', () => {
    expect(iou(box(0, 0, 10, 10), box(0, 0, 10, 10))).toBe(1);
    expect(iou(box(0, 0, 10, 10), box(20, 20, 30, 30))).toBe(0);
    expect(iou(box(0, 0, 10, 10), box(5, 0, 15, 10))).toBeCloseTo(50 / 150);
    expect(iou(box(0, 0, 0, 0), box(0, 0, 0, 0))).toBe(0);
  });
});

describe('agreement', () => {
  const reviewed: ReviewedFinding[] = [
    // flagged + confirmed, radiologist box matches the model box → no missed lesion
    { finding: 'tb', modelFlagged: true, modelBoxes: [lesion('tb', box(0, 0, 100, 100))], review: { decision: 'confirmed', boxes: [box(10, 10, 100, 100)] } },
    // flagged + confirmed, one extra box far away → one missed lesion
    { finding: 'tb', modelFlagged: true, modelBoxes: [lesion('tb', box(0, 0, 100, 100))], review: { decision: 'confirmed', boxes: [box(300, 300, 400, 400)] } },
    // flagged + rejected: boxes (if any) do not count
    { finding: 'tb', modelFlagged: true, modelBoxes: [], review: { decision: 'rejected', boxes: [box(1, 1, 2, 2)] } },
    // not flagged, radiologist says present with two boxes → missed finding, two missed lesions
    { finding: 'tb', modelFlagged: false, modelBoxes: [], review: { decision: 'rejected', boxes: [box(0, 0, 5, 5), box(50, 50, 60, 60)] } },
    // not flagged, radiologist agrees it is absent
    { finding: 'tb', modelFlagged: false, modelBoxes: [], review: { decision: 'confirmed', boxes: [] } },
    // a nodule box of the model does not excuse a tb box
    { finding: 'nodule', modelFlagged: true, modelBoxes: [lesion('tb', box(0, 0, 10, 10))], review: { decision: 'confirmed', boxes: [box(0, 0, 10, 10)] } },
  ];

  test('PPV of flags, missed findings and lesions per finding', () => {
    expect(agreement('tb', reviewed)).toEqual({
      finding: 'tb',
      flagsReviewed: 3,
      confirmed: 2,
      rejected: 1,
      ppv: 2 / 3,
      missedFindings: 1,
      missedLesions: 3,
      negativesReviewed: 2,
    });
    expect(agreement('nodule', reviewed)).toEqual({
      finding: 'nodule',
      flagsReviewed: 1,
      confirmed: 1,
      rejected: 0,
      ppv: 1,
      missedFindings: 0,
      missedLesions: 1,
      negativesReviewed: 0,
    });
  });

  test('nothing reviewed: PPV is null, not 0', () => {
    expect(agreement('tb', []).ppv).toBeNull();
  });
});

describe('reviewStatusOf', () => {
  const triage = (tb: boolean, nodule: boolean) => ({
    triage: {
      state: 'done' as const,
      findings: [
        { finding: 'tb' as const, score: 0.9, flagged: tb, heatmapPath: '' },
        { finding: 'nodule' as const, score: 0.2, flagged: nodule, heatmapPath: '' },
      ],
    },
  });
  test('open until every flagged finding is reviewed; unflagged studies after any review', () => {
    expect(reviewStatusOf(triage(true, true), [{ finding: 'tb' }])).toBe('open');
    expect(reviewStatusOf(triage(true, true), [{ finding: 'tb' }, { finding: 'nodule' }])).toBe('reviewed');
    expect(reviewStatusOf(triage(true, false), [{ finding: 'tb' }])).toBe('reviewed');
    expect(reviewStatusOf(triage(false, false), [])).toBe('open');
    expect(reviewStatusOf(triage(false, false), [{ finding: 'nodule' }])).toBe('reviewed');
  });
});
