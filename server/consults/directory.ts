/** ConsultDirectory for the EMR access policy and the SFU. */
import type { Model } from 'mongoose';
import type { ConsultRequest } from '../../models/consult-request';
import type { ConsultAccess } from './access';
import type { ConsultDirectory } from './directory-api';
import { entersWithoutWaiting } from './consult-room';
import { OPEN_STATUSES } from './state-machine';

const DAY = 24 * 60 * 60 * 1000;

export function createConsultDirectory(consults: Model<ConsultRequest>, access: ConsultAccess): ConsultDirectory {
  return {
    async isConsultParticipantForPatient(userId, patientId, recentDays = 14) {
      const since = new Date(Date.now() - recentDays * DAY);
      const found = await consults
        .findOne({
          patientId,
          'participants.userId': userId,
          $or: [{ status: { $in: [...OPEN_STATUSES.filter((s) => s !== 'draft')] } }, { status: 'closed', closedAt: { $gte: since } }],
        }, { _id: 1 })
        .lean();
      return found !== null;
    },
    async callAdmission(userId, consultId) {
      const c = await consults.findById(consultId).lean<ConsultRequest>();
      if (!c) return null;
      const me = c.participants.find((p) => p.userId === userId);
      const host = c.assignedSpecialistId === userId;
      const displayName = me?.displayName ?? (await access.user(userId))?.displayName ?? userId;
      return { participant: Boolean(me), admitted: Boolean(me) && entersWithoutWaiting(c, userId), host, displayName, status: c.status };
    },
  };
}
