/** Labels and tones for consult states and urgencies (one place, used by every consult screen). */
import type { ConsultStatus, ConsultUrgency, EmrSectionCode } from '../../../contracts/consult-api';
import type { Tone } from '../components/ui';
import type { MessageKey } from '../i18n';

export const statusLabel: Record<ConsultStatus, MessageKey> = {
  draft: 'status.draft',
  requested: 'status.requested',
  accepted: 'status.accepted',
  scheduled: 'status.scheduled',
  in_progress: 'status.in_progress',
  reported: 'status.reported',
  closed: 'status.closed',
  declined: 'status.declined',
  cancelled: 'status.cancelled',
  expired: 'status.expired',
};

export const statusTone: Record<ConsultStatus, Tone> = {
  draft: 'neutral',
  requested: 'info',
  accepted: 'info',
  scheduled: 'info',
  in_progress: 'warning',
  reported: 'success',
  closed: 'neutral',
  declined: 'danger',
  cancelled: 'neutral',
  expired: 'danger',
};

export const urgencyLabel: Record<ConsultUrgency, MessageKey> = {
  routine: 'urgency.routine',
  urgent: 'urgency.urgent',
  emergency: 'urgency.emergency',
};

export const urgencyTone: Record<ConsultUrgency, Tone> = {
  routine: 'neutral',
  urgent: 'warning',
  emergency: 'critical',
};

export const emrSectionLabel: Record<EmrSectionCode, MessageKey> = {
  problems: 'record.problems',
  medications: 'record.medications',
  allergies: 'record.allergies',
  vitals: 'record.vitals',
  labs: 'record.labs',
  imaging: 'record.imaging',
  encounters: 'record.encounters',
};

/** Specialties offered in the request form (free text is accepted too). */
export const SPECIALTIES: { value: string; label: MessageKey }[] = [
  { value: 'pulmonology', label: 'specialty.pulmonology' },
  { value: 'cardiology', label: 'specialty.cardiology' },
  { value: 'neurology', label: 'specialty.neurology' },
  { value: 'infectious disease', label: 'specialty.infectious' },
  { value: 'oncology', label: 'specialty.oncology' },
  { value: 'pediatrics', label: 'specialty.pediatrics' },
  { value: 'radiology', label: 'specialty.radiology' },
  { value: 'general surgery', label: 'specialty.surgery' },
  { value: 'general practice', label: 'specialty.generalPractice' },
];

export function specialtyKey(value: string): MessageKey | undefined {
  return SPECIALTIES.find((s) => s.value === value.toLowerCase())?.label;
}
