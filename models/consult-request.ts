import { Schema, type Connection } from 'mongoose';
import {
  CONSULT_PARTICIPANT_ROLES,
  CONSULT_STATUSES,
  CONSULT_URGENCIES,
  EMR_SECTION_CODES,
  type ConsultParticipantRole,
  type ConsultStatus,
  type ConsultUrgency,
  type EmrSectionCode,
} from '../contracts/consult-api';
import { modelOn } from './model-on';
import type { FlaggedFinding } from '../contracts/triage-priority';

export interface ConsultParticipant {
  userId: string;
  role: ConsultParticipantRole;
  facilityId: string;
  displayName: string;
  /** Admitted to the live room by the host (kept, so a reconnect does not wait again). */
  admitted: boolean;
  addedAt: Date;
}

/**
 * A request for remote consultation (hội chẩn) from a referring doctor to a central hospital.
 * Exported to FHIR as ServiceRequest (the order) + Task (its workflow state). Every state change
 * is a findOneAndUpdate with the expected `status` as precondition (no transactions on FerretDB).
 */
export interface ConsultRequest {
  _id: string;
  status: ConsultStatus;
  patientId: string;
  reason: string;
  clinicalQuestion: string;
  urgency: ConsultUrgency;
  requestedSpecialty: string;
  sharedSections: EmrSectionCode[];
  imagingStudyIds: string[];
  preferredTime: Date | null;
  scheduledFor: Date | null;
  requesterId: string;
  requesterFacilityId: string;
  assignedSpecialistId: string | null;
  participants: ConsultParticipant[];
  /** When each state was entered. */
  stateTimes: Partial<Record<ConsultStatus, Date>>;
  requestedAt: Date | null;
  /** Acceptance deadline from the urgency. */
  slaDeadline: Date | null;
  /** Set once when the sweeper announced the missed deadline. */
  overdueNotifiedAt: Date | null;
  /**
   * 0–1: the highest triage priority of the attached studies (contracts/triage-priority.ts; ≥ 0.5
   * when a finding is flagged), for the queue order; null while none is scored.
   */
  aiFlagSeverity: number | null;
  /** The flagged finding of that study (what the queue's badge names), null when nothing is flagged. */
  aiFlag?: FlaggedFinding | null;
  declineReason: string | null;
  cancelReason: string | null;
  closedAt: Date | null;
  createdAt: Date;
  updatedAt: Date;
}

const participantSchema = new Schema<ConsultParticipant>(
  {
    userId: { type: String, required: true },
    role: { type: String, enum: CONSULT_PARTICIPANT_ROLES, required: true },
    facilityId: { type: String, required: true },
    displayName: { type: String, required: true },
    admitted: { type: Boolean, default: false },
    addedAt: { type: Date, required: true },
  },
  { _id: false },
);

const stateTimes = Object.fromEntries(CONSULT_STATUSES.map((s) => [s, { type: Date }]));

const consultRequestSchema = new Schema<ConsultRequest>(
  {
    _id: { type: String, required: true },
    status: { type: String, enum: CONSULT_STATUSES, required: true },
    patientId: { type: String, required: true },
    reason: { type: String, required: true, maxlength: 2000 },
    clinicalQuestion: { type: String, required: true, maxlength: 4000 },
    urgency: { type: String, enum: CONSULT_URGENCIES, required: true },
    requestedSpecialty: { type: String, required: true, maxlength: 100 },
    sharedSections: { type: [{ type: String, enum: EMR_SECTION_CODES }], default: [] },
    imagingStudyIds: { type: [String], default: [] },
    preferredTime: { type: Date, default: null },
    scheduledFor: { type: Date, default: null },
    requesterId: { type: String, required: true },
    requesterFacilityId: { type: String, required: true },
    assignedSpecialistId: { type: String, default: null },
    participants: { type: [participantSchema], default: [] },
    stateTimes: { type: new Schema(stateTimes, { _id: false }), default: {} },
    requestedAt: { type: Date, default: null },
    slaDeadline: { type: Date, default: null },
    overdueNotifiedAt: { type: Date, default: null },
    aiFlagSeverity: { type: Number, default: null },
    aiFlag: { type: new Schema({ finding: String, score: Number, threshold: Number }, { _id: false }), default: null },
    declineReason: { type: String, default: null },
    cancelReason: { type: String, default: null },
    closedAt: { type: Date, default: null },
  },
  { timestamps: true, versionKey: false, minimize: false },
);
consultRequestSchema.index({ status: 1, slaDeadline: 1 });
consultRequestSchema.index({ patientId: 1, status: 1 });
consultRequestSchema.index({ 'participants.userId': 1 });
consultRequestSchema.index({ imagingStudyIds: 1 });

export const consultRequestModel = (conn: Connection) => modelOn(conn, 'ConsultRequest', consultRequestSchema);
