/** Service levels: how soon a requested consult must be accepted, when it expires, and the queue order. Pure. */
import type { ConsultUrgency } from '../../contracts/consult-api';

const MINUTE = 60_000;

/** Time from `requested` to `accepted` before the consult counts as overdue. */
export const ACCEPTANCE_SLA_MS: Readonly<Record<ConsultUrgency, number>> = {
  emergency: 15 * MINUTE,
  urgent: 2 * 60 * MINUTE,
  routine: 24 * 60 * MINUTE,
};

/** A request nobody accepted within this time becomes `expired`. */
export const EXPIRE_AFTER_MS = 7 * 24 * 60 * MINUTE;

/** How often the sweeper looks for overdue and expired requests. */
export const SWEEP_INTERVAL_MS = 5_000;

export function slaDeadline(urgency: ConsultUrgency, requestedAt: Date): Date {
  return new Date(requestedAt.getTime() + ACCEPTANCE_SLA_MS[urgency]);
}

export function isOverdue(c: { status: string; slaDeadline: Date | null }, now: Date): boolean {
  return c.status === 'requested' && c.slaDeadline !== null && c.slaDeadline.getTime() < now.getTime();
}

const URGENCY_RANK: Readonly<Record<ConsultUrgency, number>> = { emergency: 0, urgent: 1, routine: 2 };

export interface QueueKey {
  urgency: ConsultUrgency;
  /** 0–1, the highest AI flag score of attached studies; null when none was triaged. */
  aiFlagSeverity: number | null;
  requestedAt: Date;
}

/** Queue order: urgency (emergency first), then AI flag severity (highest first), then the longest wait. */
export function compareQueue(a: QueueKey, b: QueueKey): number {
  const u = URGENCY_RANK[a.urgency] - URGENCY_RANK[b.urgency];
  if (u !== 0) return u;
  const s = (b.aiFlagSeverity ?? -1) - (a.aiFlagSeverity ?? -1);
  if (s !== 0) return s;
  return a.requestedAt.getTime() - b.requestedAt.getTime();
}
