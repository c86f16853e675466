/**
 * What the consult feature offers other features (the EMR access policy, the SFU). Implemented in server/consults.
 */
export interface ConsultDirectory {
  /**
   * True when the user takes part (requester, assigned specialist, invited radiologist or other
   * admitted participant) in a consult for this patient that is open, or was closed less than
   * `recentDays` ago (default 14). Consent is checked by the EMR policy, not here.
   */
  isConsultParticipantForPatient(userId: string, patientId: string, recentDays?: number): Promise<boolean>;
  /** The patients for whom `isConsultParticipantForPatient(userId, patient)` holds (at most `limit`). */
  consultPatientIds(userId: string, limit?: number): Promise<string[]>;
  /**
   * Whether a user may enter the live call of a consult, and whether they host it. `refusal` says why
   * a participant may not (consult not in a call state, account disabled, no record access now).
   */
  callAdmission(userId: string, consultId: string): Promise<CallAdmissionAnswer | null>;
}

export interface CallAdmissionAnswer {
  participant: boolean;
  admitted: boolean;
  host: boolean;
  displayName: string;
  status: string;
  refusal?: string;
  /** With `refusal`: `no_call` when the consult is not in a call state, `forbidden` otherwise. */
  refusalCode?: 'no_call' | 'forbidden';
}
