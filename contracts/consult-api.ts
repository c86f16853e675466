import type { FlaggedFinding } from './triage-priority';
/** HTTP API types of the consult feature, shared by server/ and client/. */

export const CONSULT_STATUSES = [
  'draft',
  'requested',
  'accepted',
  'scheduled',
  'in_progress',
  'reported',
  'closed',
  'declined',
  'cancelled',
  'expired',
] as const;
export type ConsultStatus = (typeof CONSULT_STATUSES)[number];

/** States in which the consult is still alive (the room, chat, the SLA, record pushes). The one list; server and client use it. */
export const OPEN_CONSULT_STATUSES: readonly ConsultStatus[] = ['draft', 'requested', 'accepted', 'scheduled', 'in_progress', 'reported'];

export const CONSULT_URGENCIES = ['routine', 'urgent', 'emergency'] as const;
export type ConsultUrgency = (typeof CONSULT_URGENCIES)[number];

export const EMR_SECTION_CODES = ['problems', 'medications', 'allergies', 'vitals', 'labs', 'imaging', 'encounters'] as const;
export type EmrSectionCode = (typeof EMR_SECTION_CODES)[number];

export const CONSULT_PARTICIPANT_ROLES = ['requester', 'specialist', 'radiologist', 'invited'] as const;
export type ConsultParticipantRole = (typeof CONSULT_PARTICIPANT_ROLES)[number];

/** The actions of the state machine, each one `POST /api/consults/:id/<action>`. */
export const CONSULT_ACTIONS = ['submit', 'accept', 'decline', 'schedule', 'start', 'report', 'close', 'cancel'] as const;
export type ConsultAction = (typeof CONSULT_ACTIONS)[number];

export interface CreateConsultRequestBody {
  patientId: string;
  reason: string;
  clinicalQuestion: string;
  urgency: ConsultUrgency;
  requestedSpecialty: string;
  sharedSections?: EmrSectionCode[];
  imagingStudyIds?: string[];
  /** ISO date-time. */
  preferredTime?: string;
  /** false keeps it a draft (default: submit at once). */
  submit?: boolean;
}

export interface ConsultParticipantView {
  userId: string;
  displayName: string;
  role: ConsultParticipantRole;
  facilityId: string;
  admitted: boolean;
}

export interface PatientHeaderView {
  id: string;
  name: string;
  birthDate?: string;
  gender?: string;
  citizenIdMasked?: string;
}

/**
 * Where the AI triage of a consult's attached X-rays stands: none attached; still running; scored
 * (`aiFlagSeverity` holds the result); not scored (none of them is a frontal chest X-ray, so the
 * AI gave no result, by design); failed (triage failed or is unavailable on this server).
 */
export type ConsultAiState = 'none' | 'pending' | 'scored' | 'not_scored' | 'failed';

export interface ConsultView {
  id: string;
  status: ConsultStatus;
  patientId: string;
  patient: PatientHeaderView | null;
  reason: string;
  clinicalQuestion: string;
  urgency: ConsultUrgency;
  requestedSpecialty: string;
  sharedSections: EmrSectionCode[];
  imagingStudyIds: string[];
  preferredTime: string | null;
  scheduledFor: string | null;
  requesterId: string;
  requesterFacilityId: string;
  assignedSpecialistId: string | null;
  participants: ConsultParticipantView[];
  /** When each state was entered (ISO date-times). */
  stateTimes: Partial<Record<ConsultStatus, string>>;
  /** Acceptance deadline (SLA), ISO date-time. */
  slaDeadline: string | null;
  overdue: boolean;
  /**
   * 0–1, for ordering only (never shown as a score): the attached X-rays' highest triage priority
   * (contracts/triage-priority.ts: ≥ 0.5 when a finding is flagged); null while none is scored.
   */
  aiFlagSeverity: number | null;
  /** The flagged finding the queue's badge names, with its score and threshold; null when nothing is flagged. */
  aiFlag: FlaggedFinding | null;
  aiState: ConsultAiState;
  declineReason: string | null;
  /**
   * What the caller (the user this view was made for) may do now, from the server's state machine.
   * Views are only sent over HTTP, one caller each; socket pushes carry no view, clients refetch.
   */
  allowedActions: ConsultAction[];
  createdAt: string;
  updatedAt: string;
}

export interface ConsultQueueItem extends ConsultView {
  waitingMinutes: number;
}

export interface TransitionBody {
  /** decline / cancel / close: why (optional). */
  reason?: string;
  /** schedule: ISO date-time of the call. */
  scheduledFor?: string;
}

export interface InviteParticipantBody {
  userId: string;
  role?: 'radiologist' | 'invited';
}

export interface ConsultAttachmentView {
  id: string;
  filename: string;
  contentType: 'image/png' | 'image/jpeg' | 'application/pdf';
  size: number;
  sha256: string;
}

export interface ConsultMessageView {
  id: string;
  consultId: string;
  authorId: string;
  authorName: string;
  text: string;
  attachment: ConsultAttachmentView | null;
  createdAt: string;
}

export interface ConsultNoteView {
  id: string;
  consultId: string;
  text: string;
  createdAt: string;
}

export interface ReportBody {
  findings: string;
  recommendation: string;
  impression?: string;
  /** ICD-10 codes, e.g. "J18.9". */
  diagnosisCodes?: { code: string; display?: string }[];
}

export interface PublicJwk {
  kty: 'EC';
  crv: 'P-256';
  x: string;
  y: string;
  kid: string;
  alg: 'ES256';
  use: 'sig';
}

export interface ConsultReportView {
  consultId: string;
  version: number;
  status: 'final' | 'amended';
  /** The signed FHIR DiagnosticReport (exactly what the signature covers, as canonical JSON). */
  resource: Record<string, unknown>;
  /** Detached compact JWS (RFC 7515 appendix F, RFC 7797 b64=false): `<header>..<signature>`. */
  signature: string;
  kid: string;
  signerId: string;
  signedAt: string;
  publicJwk: PublicJwk;
  /** The signer's name. */
  signerName?: string;
  /** The signed report as a FHIR Provenance carrying its signature (sigFormat application/jose). */
  provenance?: Record<string, unknown>;
}

export interface ReportVerification {
  valid: boolean;
  version: number;
  kid: string | null;
  signerId: string | null;
  /** What failed, when not valid. */
  problem?: string;
  /** The signer's name (from the certificate, else the user directory). */
  signerName?: string | null;
  /** When it was signed (the signed header's `iat`). */
  signedAt?: string | null;
  /** Signed with a bare key before reports carried certificates (no chain to check). */
  legacy?: boolean;
  /** Each check: signature over the report, chain to a trusted hospital CA, validity at signing time, revocation list (null = does not apply). */
  checks?: { signature: boolean; chain: boolean | null; validity: boolean | null; revocation: boolean | null };
  /** The signer's X.509 certificate. */
  certificate?: {
    subject: string;
    issuer: string;
    serialNumber: string;
    notBefore: string;
    notAfter: string;
    sha256: string;
    commonName: string | null;
    organisation: string | null;
  };
  /** Certificate subjects from the signer to the root CA. */
  path?: string[];
  /** When this verification ran. */
  checkedAt?: string;
}
