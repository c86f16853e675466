/** socket.io events of the imaging feature (owned by server/imaging). */
import type { TriageFinding, TriageState } from './imaging-api';

export interface TriageProgressEvent {
  studyId: string;
  patientId: string;
  state: TriageState;
  message?: string;
  at: string;
}

export interface TriageCompletedEvent {
  studyId: string;
  patientId: string;
  consultId?: string;
  flagged: TriageFinding[];
  maxScore: number;
}

export interface WorklistUpdatedEvent {
  studyId: string;
  reason: 'triaged' | 'reviewed';
}

export interface ImagingServerToClientEvents {
  /** To the uploader (user room): queued → running → done | failed. */
  'triage:progress': (event: TriageProgressEvent) => void;
  /** To the uploader (user room). Consult rooms hear of it through the consult feature (domain event triage.completed). */
  'triage:completed': (event: TriageCompletedEvent) => void;
  /** To the radiologists: re-fetch GET /api/triage/worklist (ids only, never patient data). */
  'worklist:updated': (event: WorklistUpdatedEvent) => void;
}
// eslint-disable-next-line @typescript-eslint/no-empty-object-type
export interface ImagingClientToServerEvents {}
