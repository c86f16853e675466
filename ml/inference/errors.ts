/** Errors the triage engine raises itself (decode failures stay ImageDecodeError from ml/decode). */

/** The queue is full: the caller should retry later (HTTP 503 / 429). */
export class TriageBusyError extends Error {
  override readonly name = 'TriageBusyError';
  constructor(
    readonly queueLength: number,
    readonly maxQueue: number,
  ) {
    super(`triage queue is full (${queueLength} waiting, max ${maxQueue}); retry later`);
  }
}

/** The engine was closed before or while the job ran. */
export class TriageClosedError extends Error {
  override readonly name = 'TriageClosedError';
  constructor(message = 'triage engine is closed') {
    super(message);
  }
}

/** The worker thread running the job died (crash, out of memory, terminated); it is respawned. */
export class TriageWorkerError extends Error {
  override readonly name = 'TriageWorkerError';
}

/** Inference failed inside the worker for a reason other than decoding (bad model output, ORT error). */
export class TriageInferenceError extends Error {
  override readonly name = 'TriageInferenceError';
  constructor(
    message: string,
    readonly originalName: string,
  ) {
    super(message);
  }
}

/**
 * The image is not a frontal chest X-ray (input gate: DICOM tags, else the pixel check): the engine
 * does not score it. `decision` says what decided and why; the imaging service stores such a study
 * as "not scored".
 */
export class InputGateError extends Error {
  override readonly name = 'InputGateError';
  constructor(
    readonly decision: {
      readonly scored: boolean;
      readonly by: 'dicom-tags' | 'pixels';
      readonly reason: string;
      readonly chestProbability: number;
      readonly model?: { readonly version: string; readonly sha256?: string };
    },
    readonly image?: { readonly width: number; readonly height: number; readonly format: string },
  ) {
    super(decision.reason);
  }
}
