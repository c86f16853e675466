/** socket.io events of the consult feature (owned by server/consults). */
import type { ConsultMessageView, ConsultParticipantView, ConsultStatus, ConsultUrgency } from './consult-api';
import type { Ack } from './events';
import type { FhirBundle } from './fhir';

export interface ConsultRef {
  consultId: string;
  patientId: string;
}

export interface ConsultRequestedEvent extends ConsultRef {
  urgency: ConsultUrgency;
  requestedSpecialty: string;
  requesterFacilityId: string;
  slaDeadline: string | null;
}

export interface ConsultStatusEvent extends ConsultRef {
  status: ConsultStatus;
  byUserId: string | null;
  at: string;
}

export interface PresentParticipant {
  userId: string;
  displayName: string;
  role: string;
}

export interface ConsultRoomState {
  consultId: string;
  /** Everyone taking part in the consult (persisted). */
  participants: ConsultParticipantView[];
  /** Who is in the room now (admitted and connected). */
  present: PresentParticipant[];
  /** Who waits for the host to admit them (connected, not yet admitted). */
  waiting: PresentParticipant[];
  hostId: string | null;
}

export interface ConsultJoinResult {
  admitted: boolean;
  host: boolean;
  room: ConsultRoomState;
  /** The shared EMR summary when the caller's record access allows it (null otherwise or while the EMR is away). */
  summary: FhirBundle | null;
}

export interface RecordUpdatedEvent extends ConsultRef {
  resourceType: string;
  resourceId: string;
  change: 'created' | 'updated' | 'deleted';
}

export interface TriageUpdatedEvent extends ConsultRef {
  studyId: string;
  state: 'queued' | 'running' | 'done' | 'failed';
  tbFlagged?: boolean;
  noduleFlagged?: boolean;
  maxScore?: number;
  message?: string;
}

export interface ConsultServerToClientEvents {
  /** To the facility rooms of central-tier facilities. */
  'consult:requested': (e: ConsultRequestedEvent) => void;
  'consult:accepted': (e: ConsultStatusEvent & { specialistId: string }) => void;
  'consult:scheduled': (e: ConsultStatusEvent & { scheduledFor: string }) => void;
  'consult:started': (e: ConsultStatusEvent) => void;
  /** Every transition (also the ones with their own event). */
  'consult:status': (e: ConsultStatusEvent) => void;
  'consult:participant-joined': (e: { consultId: string; participant: PresentParticipant }) => void;
  'consult:participant-left': (e: { consultId: string; userId: string }) => void;
  /** To the host: someone waits to be admitted. */
  'consult:waiting': (e: { consultId: string; waiting: PresentParticipant[] }) => void;
  /** To the admitted person: they are in; carries the room state. */
  'consult:admitted': (e: { consultId: string; room: ConsultRoomState }) => void;
  'consult:message': (e: ConsultMessageView) => void;
  'record:updated': (e: RecordUpdatedEvent) => void;
  'consult:report-ready': (e: ConsultRef & { version: number; status: 'final' | 'amended' }) => void;
  /** To the central facility rooms, once per consult, when the acceptance deadline passes. */
  'consult:overdue': (e: ConsultRef & { urgency: ConsultUrgency; slaDeadline: string }) => void;
  'triage:updated': (e: TriageUpdatedEvent) => void;
}

export interface ConsultClientToServerEvents {
  'consult:join': (payload: { consultId: string }, ack: Ack<ConsultJoinResult>) => void;
  'consult:leave': (payload: { consultId: string }, ack?: Ack) => void;
  /** Host only. */
  'consult:admit': (payload: { consultId: string; userId: string }, ack: Ack) => void;
  'consult:message': (payload: { consultId: string; text: string }, ack: Ack<{ message: ConsultMessageView }>) => void;
}
