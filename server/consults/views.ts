/** Stored documents → the API shapes of contracts/consult-api.ts. */
import type {
  ConsultAiState,
  ConsultAttachmentView,
  ConsultMessageView,
  ConsultParticipantView,
  ConsultStatus,
  ConsultView,
  PatientHeaderView,
} from '../../contracts/consult-api';
import type { ConsultAttachment } from '../../models/consult-attachment';
import type { ConsultMessage } from '../../models/consult-message';
import type { ConsultRequest } from '../../models/consult-request';
import { isOverdue } from './sla';
import { availableActions, type Actor } from './state-machine';

const iso = (d: Date | null | undefined): string | null => (d ? new Date(d).toISOString() : null);

export function participantView(p: ConsultRequest['participants'][number]): ConsultParticipantView {
  return { userId: p.userId, displayName: p.displayName, role: p.role, facilityId: p.facilityId, admitted: p.admitted };
}

/**
 * The AI state as far as the consult document tells: a severity means scored; studies without one
 * are pending until the studies themselves say otherwise (ConsultService looks them up).
 */
export function storedAiState(c: Pick<ConsultRequest, 'aiFlagSeverity' | 'imagingStudyIds'>): ConsultAiState {
  // eslint-disable-next-line @typescript-eslint/no-unnecessary-condition -- runtime input: older documents may lack the fields
  if (c.aiFlagSeverity !== null && c.aiFlagSeverity !== undefined) return 'scored';
  // eslint-disable-next-line @typescript-eslint/no-unnecessary-condition -- runtime input: older documents may lack the fields
  return (c.imagingStudyIds ?? []).length > 0 ? 'pending' : 'none';
}

/**
 * The triage states of a consult's attached studies → its AI state (when no severity is stored yet).
 * Anything still queued or running, or done but not yet counted on the consult, is pending; studies
 * the input gate refused are not scored; failed or unavailable triage is failed.
 */
export function aiStateOf(studyStates: readonly string[]): ConsultAiState {
  if (studyStates.length === 0) return 'none';
  if (studyStates.some((s) => s === 'queued' || s === 'running' || s === 'done')) return 'pending';
  if (studyStates.some((s) => s === 'failed' || s === 'unavailable')) return 'failed';
  return 'not_scored';
}

/** `viewer`: the caller the view is for (its allowedActions are theirs); null gives no actions. */
export function consultView(
  c: ConsultRequest,
  patient: PatientHeaderView | null,
  viewer: Actor | null,
  now = new Date(),
  aiState: ConsultAiState = storedAiState(c),
): ConsultView {
  const stateTimes: Partial<Record<ConsultStatus, string>> = {};
  // eslint-disable-next-line @typescript-eslint/no-unnecessary-condition -- runtime input: the value comes from outside (database, request, parsed data) and may not match its declared type
  for (const [k, v] of Object.entries(c.stateTimes ?? {})) if (v) stateTimes[k as ConsultStatus] = new Date(v).toISOString();
  return {
    id: c._id,
    status: c.status,
    patientId: c.patientId,
    patient,
    reason: c.reason,
    clinicalQuestion: c.clinicalQuestion,
    urgency: c.urgency,
    requestedSpecialty: c.requestedSpecialty,
    // eslint-disable-next-line @typescript-eslint/no-unnecessary-condition -- runtime input: the value comes from outside (database, request, parsed data) and may not match its declared type
    sharedSections: c.sharedSections ?? [],
    // eslint-disable-next-line @typescript-eslint/no-unnecessary-condition -- runtime input: the value comes from outside (database, request, parsed data) and may not match its declared type
    imagingStudyIds: c.imagingStudyIds ?? [],
    preferredTime: iso(c.preferredTime),
    scheduledFor: iso(c.scheduledFor),
    requesterId: c.requesterId,
    requesterFacilityId: c.requesterFacilityId,
    assignedSpecialistId: c.assignedSpecialistId ?? null,
    participants: c.participants.map(participantView),
    stateTimes,
    slaDeadline: iso(c.slaDeadline),
    overdue: isOverdue({ status: c.status, slaDeadline: c.slaDeadline ? new Date(c.slaDeadline) : null }, now),
    aiFlagSeverity: c.aiFlagSeverity ?? null,
    aiFlag: c.aiFlag
      ? { finding: c.aiFlag.finding, score: c.aiFlag.score, ...(typeof c.aiFlag.threshold === 'number' ? { threshold: c.aiFlag.threshold } : {}) }
      : null,
    aiState,
    declineReason: c.declineReason ?? null,
    allowedActions: viewer
      ? availableActions(viewer, {
          status: c.status,
          requesterId: c.requesterId,
          requestedSpecialty: c.requestedSpecialty,
          assignedSpecialistId: c.assignedSpecialistId ?? null,
        })
      : [],
    createdAt: new Date(c.createdAt).toISOString(),
    updatedAt: new Date(c.updatedAt).toISOString(),
  };
}

export function attachmentView(a: Pick<ConsultAttachment, '_id' | 'filename' | 'contentType' | 'size' | 'sha256'>): ConsultAttachmentView {
  return { id: a._id, filename: a.filename, contentType: a.contentType, size: a.size, sha256: a.sha256 };
}

export function messageView(m: ConsultMessage, attachment: ConsultAttachmentView | null): ConsultMessageView {
  return {
    id: m._id,
    consultId: m.consultId,
    authorId: m.authorId,
    authorName: m.authorName,
    text: m.text,
    attachment,
    createdAt: new Date(m.createdAt).toISOString(),
  };
}

/** A consult the caller took part in but may no longer see the content of (window ended, Consent withdrawn). */
export function redactedView(c: ConsultRequest, viewer: Actor | null, now = new Date()): ConsultView {
  return { ...consultView(c, null, viewer, now, 'none'), reason: '', clinicalQuestion: '', sharedSections: [], imagingStudyIds: [], declineReason: null };
}
