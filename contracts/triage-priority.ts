/**
 * How urgent an X-ray's AI triage is, for ordering the radiologist's worklist and the specialist's
 * consult queue, and which finding its flag names.
 *
 * The findings' scores are on different scales (the nodule score is a calibrated probability, the
 * TB score is the lesion heatmap's maximum and no probability), so they are never compared raw.
 * Each finding is placed on its own operating point instead: below its flag threshold t a score s
 * maps to 0.5·s/t (under 0.5), at or above it to 0.5 + 0.5·(s − t)/(1 − t) (0.5 at the threshold,
 * 1 at a score of 1). Flagged studies therefore always come before unflagged ones, and among them
 * the finding furthest into its flagged range comes first. A finding stored without a threshold
 * (studies triaged before thresholds were stored) counts its raw score on the same halves.
 */
export interface ScoredFinding<F extends string = string> {
  finding: F;
  score: number;
  flagged: boolean;
  threshold?: number;
}

export interface FlaggedFinding<F extends string = string> {
  finding: F;
  score: number;
  threshold?: number;
}

const clamp01 = (x: number) => (Number.isFinite(x) ? Math.min(1, Math.max(0, x)) : 0);

export function findingPriority(f: ScoredFinding): number {
  const s = clamp01(f.score);
  const t = f.threshold;
  if (t === undefined || !(t > 0 && t < 1)) return f.flagged ? 0.5 + 0.5 * s : 0.5 * Math.min(s, 0.999);
  if (f.flagged) return 0.5 + 0.5 * clamp01((s - t) / (1 - t));
  return 0.5 * Math.min(s / t, 0.999);
}

/** The study's priority, 0–1: its most urgent finding's (0 when it has none). */
export function triagePriority(findings: readonly ScoredFinding[]): number {
  return findings.reduce((m, f) => Math.max(m, findingPriority(f)), 0);
}

/** The flagged finding a flag badge names: the flagged one with the highest priority (null: nothing flagged). */
export function strongestFlag<F extends string>(findings: readonly ScoredFinding<F>[]): FlaggedFinding<F> | null {
  let best: ScoredFinding<F> | null = null;
  for (const f of findings) if (f.flagged && (!best || findingPriority(f) > findingPriority(best))) best = f;
  return best ? { finding: best.finding, score: best.score, ...(best.threshold !== undefined ? { threshold: best.threshold } : {}) } : null;
}
