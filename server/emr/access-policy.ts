/**
 * The access policy for a patient's record, as a pure function of facts (so it can be tested as a
 * matrix). Facts are gathered by server/emr/record-access.ts. Admins get no clinical access at all:
 * they run the platform and review break-glass, they do not treat patients.
 */
import type { AccessDecision, RecordAction } from './records-api';
import { isJsonObject, type JsonObject } from '../../contracts/json';

export type ConsentDecision = 'permit' | 'deny' | 'none';

export interface AccessFacts {
  caller: { userId: string; role: string; facilityId: string };
  patientId: string;
  action: RecordAction;
  /** Facilities in the patient's care team (managingOrganization, CareTeam, EpisodeOfCare, Encounter.serviceProvider). */
  careTeamFacilityIds: readonly string[];
  /** The caller takes part in an open or recently closed consult for this patient. */
  consultParticipant: boolean;
  /** The patient's Consent to sharing for consultation/treatment. */
  consent: ConsentDecision;
  /** End of the caller's active break-glass grant for this patient, if any. */
  breakGlassUntil?: Date;
  now: Date;
}

export function decideAccess(f: AccessFacts): AccessDecision {
  if (f.caller.role === 'admin') {
    // Administrators run the platform; they do not treat patients, wherever they work.
    return { allow: false, reason: 'The admin role gives no clinical access to patient records (not even at a care-team facility)' };
  }
  if (f.careTeamFacilityIds.includes(f.caller.facilityId)) {
    return { allow: true, basis: 'care-team', reason: `care team: ${f.caller.facilityId}` };
  }
  if (f.consultParticipant && f.consent === 'permit') {
    return { allow: true, basis: 'consult', reason: `consult participant with the patient's consent to share for consultation` };
  }
  if (f.breakGlassUntil && f.breakGlassUntil.getTime() > f.now.getTime()) {
    return { allow: true, basis: 'break-glass', reason: `break-glass until ${f.breakGlassUntil.toISOString()}` };
  }
  if (f.consultParticipant) {
    return {
      allow: false,
      reason:
        f.consent === 'deny'
          ? "The patient's Consent denies sharing this record for consultation"
          : 'The patient has no Consent permitting this record to be shared for consultation',
    };
  }
  return {
    allow: false,
    reason: `You are not in this patient's care team and take part in no consult for them. In an emergency, request break-glass access with a reason (POST /api/emr/break-glass).`,
  };
}

/** Purposes of use that cover sharing for a remote consultation. */
const CONSULT_PURPOSES = new Set(['TREAT', 'ETREAT', 'CAREMGT', 'consultation', 'consult']);

/** Decides from the patient's Consent resources: an active deny wins; an active permit for consultation/treatment permits. */
export function consentDecision(consents: readonly JsonObject[], now: Date = new Date()): ConsentDecision {
  let permit = false;
  for (const c of consents) {
    if (c.status !== 'active') continue;
    const provision = isJsonObject(c.provision) ? c.provision : undefined;
    if (!provision) continue;
    const period = isJsonObject(provision.period) ? provision.period : undefined;
    if (period && typeof period.end === 'string' && Date.parse(period.end) < now.getTime()) continue;
    if (period && typeof period.start === 'string' && Date.parse(period.start) > now.getTime()) continue;
    const purposes = Array.isArray(provision.purpose) ? provision.purpose.filter(isJsonObject).map((p) => String(p.code)) : [];
    const coversConsult = purposes.length === 0 || purposes.some((p) => CONSULT_PURPOSES.has(p));
    if (provision.type === 'deny' && coversConsult) return 'deny';
    if (provision.type === 'permit' && purposes.some((p) => CONSULT_PURPOSES.has(p))) permit = true;
  }
  return permit ? 'permit' : 'none';
}
