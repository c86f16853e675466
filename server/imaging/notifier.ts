/** Socket events and domain events of imaging, in one place (ids and scores only, never patient names). */
import { rooms } from '../../contracts/events';
import type { TriageState } from '../../contracts/imaging-api';
import type { DomainEvents } from '../platform/domain-events';
import type { Realtime } from '../realtime/realtime';
import type { ImagingStudy } from '../../models/imaging-study';
import { strongestFlag } from '../../contracts/triage-priority';

export class ImagingNotifier {
  constructor(
    private readonly realtime: Realtime,
    private readonly events: DomainEvents,
  ) {}

  progress(uploaderId: string, studyId: string, patientId: string, state: TriageState, message?: string): void {
    this.realtime.io
      .to(rooms.user(uploaderId))
      .emit('triage:progress', { studyId, patientId, state, ...(message ? { message } : {}), at: new Date().toISOString() });
    if (state !== 'unavailable' && state !== 'not_scored') this.events.emit('triage.progress', { patientId, studyId, state, ...(message ? { message } : {}) });
  }

  stored(study: ImagingStudy): void {
    this.events.emit('imaging.stored', { patientId: study.patientId, studyId: study._id, byUserId: study.uploadedBy });
  }

  completed(study: ImagingStudy): void {
    const flagged = (study.triage.findings ?? []).filter((f) => f.flagged).map((f) => f.finding);
    // The uploader sees the result; radiologists are told to refresh their (access-filtered) worklist.
    this.realtime.io.to(rooms.user(study.uploadedBy)).emit('triage:completed', {
      studyId: study._id,
      patientId: study.patientId,
      ...(study.consultId ? { consultId: study.consultId } : {}),
      flagged,
      maxScore: study.maxScore,
    });
    this.realtime.io.to(rooms.radiologists()).emit('worklist:updated', { studyId: study._id, reason: 'triaged' });
    this.events.emit('triage.completed', {
      patientId: study.patientId,
      studyId: study._id,
      tbFlagged: flagged.includes('tb'),
      noduleFlagged: flagged.includes('nodule'),
      maxScore: study.maxScore,
      flag: strongestFlag(study.triage.findings ?? []),
    });
  }

  reviewed(study: ImagingStudy, byUserId: string): void {
    this.realtime.io.to(rooms.radiologists()).emit('worklist:updated', { studyId: study._id, reason: 'reviewed' });
    this.events.emit('triage.reviewed', { patientId: study.patientId, studyId: study._id, byUserId });
  }
}
