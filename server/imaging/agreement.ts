/** Agreement between the AI triage and radiologists: pure functions (tested as such). */
import type { FindingAgreement, LesionBox, TriageFinding } from '../../contracts/imaging-api';
import type { StoredLesion, StoredReviewSummary } from '../../models/imaging-study';

/** A radiologist box overlapping no model box at IoU ≥ this is a lesion the model missed. */
export const MISSED_IOU = 0.1;

export function iou(a: LesionBox, b: LesionBox): number {
  const ix = Math.max(0, Math.min(a.x_max, b.x_max) - Math.max(a.x_min, b.x_min));
  const iy = Math.max(0, Math.min(a.y_max, b.y_max) - Math.max(a.y_min, b.y_min));
  const inter = ix * iy;
  const area = (r: LesionBox) => Math.max(0, r.x_max - r.x_min) * Math.max(0, r.y_max - r.y_min);
  const union = area(a) + area(b) - inter;
  return union > 0 ? inter / union : 0;
}

export interface ReviewedFinding {
  finding: TriageFinding;
  modelFlagged: boolean;
  modelBoxes: readonly StoredLesion[];
  review: Pick<StoredReviewSummary, 'decision' | 'boxes'>;
}

/**
 * Per finding, from the latest review of each study: PPV of flags = confirmed / flagged-and-reviewed.
 * The radiologist says the finding is present when they confirm a flag or reject a negative call;
 * then each of their boxes with IoU < 0.1 against every model box of that finding is a missed lesion.
 */
export function agreement(finding: TriageFinding, reviewed: readonly ReviewedFinding[]): FindingAgreement {
  let flagsReviewed = 0;
  let confirmed = 0;
  let rejected = 0;
  let negativesReviewed = 0;
  let missedFindings = 0;
  let missedLesions = 0;
  for (const r of reviewed) {
    if (r.finding !== finding) continue;
    const present = r.modelFlagged ? r.review.decision === 'confirmed' : r.review.decision === 'rejected';
    if (r.modelFlagged) {
      flagsReviewed++;
      if (r.review.decision === 'confirmed') confirmed++;
      else rejected++;
    } else {
      negativesReviewed++;
      if (present) missedFindings++;
    }
    if (present) {
      const modelBoxes = r.modelBoxes.filter((b) => b.finding === finding);
      missedLesions += r.review.boxes.filter((box) => modelBoxes.every((m) => iou(box, m) < MISSED_IOU)).length;
    }
  }
  return {
    finding,
    flagsReviewed,
    confirmed,
    rejected,
    ppv: flagsReviewed ? confirmed / flagsReviewed : null,
    missedFindings,
    missedLesions,
    negativesReviewed,
  };
}
