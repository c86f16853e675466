/** What the imaging service needs of the triage engine (ml/inference), so tests can stand in for it. */
import type { TriageResult } from '../../ml/inference/triage-engine';

export type { TriageResult } from '../../ml/inference/triage-engine';

export interface TriageAnalyser {
  analyse(image: Uint8Array): Promise<TriageResult>;
  close(): Promise<void>;
}

/** Either a running engine, or the reason there is none (weights missing, workers failed to start). */
export type TriageAvailability = { available: true; engine: TriageAnalyser } | { available: false; reason: string };
