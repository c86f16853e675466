/**
 * The ConsultRequest lifecycle as data: which action moves which state to which, and who may do it.
 * Pure (no I/O), so it is tested as a table.
 *
 *   draft ─submit→ requested ─accept→ accepted ─schedule→ scheduled ─start→ in_progress ─report→ reported ─close→ closed
 *                    │  ├─decline→ declined       │  └──────────start──────────────┘                 ↑
 *                    │  └─(sweeper)→ expired      └──────────────report (store-and-forward)──────────┘
 *   draft|requested|accepted|scheduled ─cancel→ cancelled
 */
import { OPEN_CONSULT_STATUSES, type ConsultAction, type ConsultStatus } from '../../contracts/consult-api';
import type { UserRole } from '../../models/user';
import type { FacilityTier } from '../../models/facility';

export interface Actor {
  userId: string;
  role: UserRole;
  facilityId: string;
  facilityTier: FacilityTier | null;
  specialty: string | null;
}

export interface ConsultFacts {
  status: ConsultStatus;
  requesterId: string;
  requestedSpecialty: string;
  assignedSpecialistId: string | null;
}

type Who = 'requester' | 'candidate-specialist' | 'assigned-specialist' | 'either-party';

interface TransitionRule {
  from: readonly ConsultStatus[];
  to: ConsultStatus;
  who: Who;
}

export const TRANSITIONS: Readonly<Record<ConsultAction, TransitionRule>> = {
  submit: { from: ['draft'], to: 'requested', who: 'requester' },
  accept: { from: ['requested'], to: 'accepted', who: 'candidate-specialist' },
  decline: { from: ['requested'], to: 'declined', who: 'candidate-specialist' },
  schedule: { from: ['accepted', 'scheduled'], to: 'scheduled', who: 'assigned-specialist' },
  start: { from: ['accepted', 'scheduled'], to: 'in_progress', who: 'assigned-specialist' },
  report: { from: ['accepted', 'scheduled', 'in_progress'], to: 'reported', who: 'assigned-specialist' },
  close: { from: ['reported'], to: 'closed', who: 'either-party' },
  cancel: { from: ['draft', 'requested', 'accepted', 'scheduled'], to: 'cancelled', who: 'requester' },
};

/** States in which the consult is still alive (the room, the SLA, record pushes). */
export const OPEN_STATUSES: readonly ConsultStatus[] = OPEN_CONSULT_STATUSES;
export const TERMINAL_STATUSES: readonly ConsultStatus[] = ['closed', 'declined', 'cancelled', 'expired'];

/** Roles that may accept consults, when they work at a central hospital and their specialty matches. */
const CONSULTING_ROLES: readonly UserRole[] = ['specialist', 'radiologist'];

export function normalizeSpecialty(s: string | null | undefined): string {
  return (s ?? '').trim().toLowerCase();
}

/** A central-hospital specialist of the requested specialty (who may see a requested consult and take it). */
export function isCandidateSpecialist(actor: Actor, requestedSpecialty: string): boolean {
  return (
    CONSULTING_ROLES.includes(actor.role) &&
    actor.facilityTier === 'central' &&
    normalizeSpecialty(actor.specialty) !== '' &&
    normalizeSpecialty(actor.specialty) === normalizeSpecialty(requestedSpecialty)
  );
}

export type TransitionDecision = { ok: true; from: ConsultStatus; to: ConsultStatus } | { ok: false; kind: 'conflict' | 'forbidden'; message: string };

const STATE_WORDS: Record<ConsultStatus, string> = {
  draft: 'a draft',
  requested: 'requested',
  accepted: 'accepted',
  scheduled: 'scheduled',
  in_progress: 'in progress',
  reported: 'reported',
  closed: 'closed',
  declined: 'declined',
  cancelled: 'cancelled',
  expired: 'expired',
};

function mayAct(who: Who, actor: Actor, c: ConsultFacts): string | null {
  switch (who) {
    case 'requester':
      return actor.userId === c.requesterId ? null : 'only the requesting doctor may do this';
    case 'candidate-specialist':
      return isCandidateSpecialist(actor, c.requestedSpecialty) ? null : `only a central-hospital specialist in ${c.requestedSpecialty} may do this`;
    case 'assigned-specialist':
      return c.assignedSpecialistId !== null && actor.userId === c.assignedSpecialistId ? null : 'only the assigned specialist may do this';
    case 'either-party':
      return actor.userId === c.requesterId || (c.assignedSpecialistId !== null && actor.userId === c.assignedSpecialistId)
        ? null
        : 'only the requesting doctor or the assigned specialist may do this';
  }
}

/**
 * Decides one action. State is checked first (409 names the state and the action), then who acts (403).
 * A transition the state allows but the actor may not do is a 403, never a 409.
 */
export function decideTransition(action: ConsultAction, actor: Actor, consult: ConsultFacts): TransitionDecision {
  const rule = TRANSITIONS[action];
  if (!rule.from.includes(consult.status)) {
    const allowed = rule.from.map((s) => STATE_WORDS[s]).join(' or ');
    return { ok: false, kind: 'conflict', message: `Cannot ${action} a consult that is ${STATE_WORDS[consult.status]} (${action} needs it to be ${allowed})` };
  }
  const refusal = mayAct(rule.who, actor, consult);
  if (refusal) return { ok: false, kind: 'forbidden', message: `Cannot ${action} this consult: ${refusal}` };
  return { ok: true, from: consult.status, to: rule.to };
}

/** The actions this actor may take now (for the client's buttons). */
export function availableActions(actor: Actor, consult: ConsultFacts): ConsultAction[] {
  return (Object.keys(TRANSITIONS) as ConsultAction[]).filter((a) => decideTransition(a, actor, consult).ok);
}
