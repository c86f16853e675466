/** ConsultDirectory for the EMR access policy and the SFU. */
import type { Model } from 'mongoose';
import type { ConsultRequest } from '../../models/consult-request';
import { CONSULT_ACCESS_DAYS_AFTER_CLOSE, type ConsultAccess } from './access';
import { entersWithoutWaiting } from './consult-room';
import type { CallAdmissionAnswer, ConsultDirectory } from './directory-api';
import { OPEN_STATUSES } from './state-machine';

const DAY = 24 * 60 * 60 * 1000;

/** A live call is possible only while the consult is being worked on; admission ends with the consult. */
export const CALL_STATUSES: readonly ConsultRequest['status'][] = ['accepted', 'scheduled', 'in_progress', 'reported'];

/** Consults of the user that are open (submitted, not finished) or closed less than `recentDays` ago. */
function inWindow(userId: string, recentDays: number): Record<string, unknown> {
  const since = new Date(Date.now() - recentDays * DAY);
  return {
    'participants.userId': userId,
    $or: [{ status: { $in: [...OPEN_STATUSES.filter((s) => s !== 'draft')] } }, { status: 'closed', closedAt: { $gte: since } }],
  };
}

export function createConsultDirectory(consults: Model<ConsultRequest>, access: ConsultAccess): ConsultDirectory {
  return {
    async isConsultParticipantForPatient(userId, patientId, recentDays = CONSULT_ACCESS_DAYS_AFTER_CLOSE) {
      const found = await consults.findOne({ patientId, ...inWindow(userId, recentDays) }, { _id: 1 }).lean();
      return found !== null;
    },

    async consultPatientIds(userId, limit = 2000) {
      // A find, not distinct(): FerretDB v1.24 on PostgreSQL answers distinct() with this filter (a
      // dotted path into the participants array plus $or) with no values at all, while find() with
      // the same filter returns the consults; consult participants then found nothing in searches.
      const rows = await consults
        .find(inWindow(userId, CONSULT_ACCESS_DAYS_AFTER_CLOSE), { _id: 0, patientId: 1 })
        .limit(limit * 4)
        .lean<Pick<ConsultRequest, 'patientId'>[]>();
      return [...new Set(rows.map((r) => r.patientId))].slice(0, limit);
    },

    /**
     * Only an admitted participant (or the host) of a consult in a call state (accepted, scheduled,
     * in progress, reported), whose account is active and who may see the patient's record under
     * the record's rules now. Every answer is audited (SFU joins included).
     */
    async callAdmission(userId, consultId): Promise<CallAdmissionAnswer | null> {
      const c = await consults.findById(consultId).lean<ConsultRequest>();
      if (!c) return null;
      const user = await access.user(userId);
      const me = c.participants.find((p) => p.userId === userId);
      const host = c.assignedSpecialistId === userId;
      const displayName = me?.displayName ?? user?.displayName ?? userId;
      const caller = { userId, role: user?.role ?? 'referring_doctor', facilityId: user?.facilityId ?? '' };
      let refusal: string | undefined;
      let refusalCode: CallAdmissionAnswer['refusalCode'];
      if (!me) refusal = 'not a participant of this consult';
      else if (!user || !user.active) refusal = 'this account is disabled';
      else if (!CALL_STATUSES.includes(c.status)) {
        refusal = `no call: the consult is ${c.status}`;
        refusalCode = 'no_call';
      } else {
        const visible = await access.contentVisible(caller, c);
        if (!visible.ok) refusal = visible.reason;
      }
      if (refusal && !refusalCode) refusalCode = 'forbidden';
      const admitted = !refusal && entersWithoutWaiting(c, userId);
      await access.record(
        caller,
        c,
        'E',
        !refusal,
        refusal ? `call admission refused: ${refusal}` : admitted ? 'call admission: admitted' : 'call admission: waiting for the host',
        {},
        refusal ? 'access-denied' : 'consult',
      );
      return { participant: Boolean(me), admitted, host, displayName, status: c.status, ...(refusal ? { refusal, refusalCode } : {}) };
    },
  };
}
