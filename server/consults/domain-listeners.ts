/** Reactions to other features' domain events: record changes and triage results reach the consult rooms. */
import type { Model } from 'mongoose';
import type { ConsultRequest } from '../../models/consult-request';
import type { DomainEventMap, DomainEvents } from '../platform/domain-events';
import type { ConsultNotifier } from './notifier';
import { OPEN_STATUSES } from './state-machine';

export function listenToDomainEvents(events: DomainEvents, consults: Model<ConsultRequest>, notifier: ConsultNotifier): Array<() => void> {
  const openFor = (q: Record<string, unknown>) =>
    consults
      .find({ ...q, status: { $in: [...OPEN_STATUSES] } }, { _id: 1, patientId: 1, participants: 1, aiFlagSeverity: 1 })
      .limit(500)
      .lean<ConsultRequest[]>();

  // An import changes hundreds of resources of one patient at once: their events are gathered per
  // patient until the next turn of the event loop, and the patient's open consults are read once.
  const pending = new Map<string, DomainEventMap['record.changed'][]>();
  const flush = async (patientId: string) => {
    const changes = pending.get(patientId) ?? [];
    pending.delete(patientId);
    for (const c of await openFor({ patientId })) {
      for (const e of changes)
        notifier.recordUpdated(c, { consultId: c._id, patientId: e.patientId, resourceType: e.resourceType, resourceId: e.resourceId, change: e.change });
    }
  };

  return [
    events.on('record.changed', (e) => {
      const queued = pending.get(e.patientId);
      if (queued) {
        queued.push(e);
        return;
      }
      pending.set(e.patientId, [e]);
      return new Promise<void>((resolve) => setImmediate(resolve)).then(() => flush(e.patientId));
    }),
    events.on('triage.progress', async (e) => {
      for (const c of await openFor({ patientId: e.patientId, imagingStudyIds: e.studyId })) {
        notifier.triage(c, { consultId: c._id, patientId: e.patientId, studyId: e.studyId, state: e.state, message: e.message });
      }
    }),
    events.on('triage.completed', async (e) => {
      const severity = Math.max(0, Math.min(1, e.maxScore));
      for (const c of await openFor({ patientId: e.patientId, imagingStudyIds: e.studyId })) {
        // keep the highest severity of the attached studies (precondition: only raise it)
        // eslint-disable-next-line @typescript-eslint/no-unnecessary-condition -- runtime input: the value comes from outside (database, request, parsed data) and may not match its declared type
        if (c.aiFlagSeverity === null || c.aiFlagSeverity === undefined || c.aiFlagSeverity < severity) {
          await consults.updateOne(
            { _id: c._id, $or: [{ aiFlagSeverity: null }, { aiFlagSeverity: { $lt: severity } }] },
            { $set: { aiFlagSeverity: severity, aiFlag: e.flag } },
          );
        }
        notifier.triage(c, {
          consultId: c._id,
          patientId: e.patientId,
          studyId: e.studyId,
          state: 'done',
          tbFlagged: e.tbFlagged,
          noduleFlagged: e.noduleFlagged,
          maxScore: e.maxScore,
        });
      }
    }),
  ];
}
