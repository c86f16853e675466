/**
 * Writes a study's FHIR resources through PatientRecords.writeAsSystem, step by step, keeping each
 * id on the study as soon as it exists; a failure leaves fhirSync 'failed' and a later sync resumes.
 */
import type { Model } from 'mongoose';
import type { TriageFinding } from '../../contracts/imaging-api';
import type { ImagingStudy } from '../../models/imaging-study';
import type { PatientRecords } from '../emr/records-api';
import type { Logger } from '../observability/logger';
import { diagnosticReportResource, imagingStudyResource, observationResource } from './fhir-resources';
import { studyUrl } from './views';

export class ImagingFhirSync {
  constructor(
    private readonly studies: Model<ImagingStudy>,
    private readonly records: PatientRecords,
    private readonly logger: Logger,
  ) {}

  /** Brings the record up to date with the study; never throws. Returns the updated study. */
  async sync(study: ImagingStudy): Promise<ImagingStudy> {
    const s: ImagingStudy = { ...study, fhirObservations: [...study.fhirObservations] };
    try {
      if (!s.fhirImagingStudyId) {
        const written = await this.records.writeAsSystem(s.patientId, imagingStudyResource(s), 'AI triage: chest X-ray received');
        s.fhirImagingStudyId = requireId(written.id);
        await this.studies.updateOne({ _id: s._id }, { $set: { fhirImagingStudyId: s.fhirImagingStudyId } });
      }
      if (s.triage.state === 'done') {
        for (const f of s.triage.findings ?? []) {
          if (s.fhirObservations.some((o) => o.finding === f.finding)) continue;
          const written = await this.records.writeAsSystem(
            s.patientId,
            observationResource(s, f.finding, heatmapUrl(s, f.finding)),
            `AI triage: ${f.finding} score`,
          );
          s.fhirObservations.push({ finding: f.finding, id: requireId(written.id) });
          await this.studies.updateOne({ _id: s._id }, { $set: { fhirObservations: s.fhirObservations } });
        }
        if (!s.fhirDiagnosticReportId) {
          const written = await this.records.writeAsSystem(s.patientId, diagnosticReportResource(s), 'AI triage: report');
          s.fhirDiagnosticReportId = requireId(written.id);
        }
      }
      s.fhirSync = 'synced';
      s.fhirError = undefined;
      await this.studies.updateOne(
        { _id: s._id },
        { $set: { fhirSync: 'synced', fhirDiagnosticReportId: s.fhirDiagnosticReportId }, $unset: { fhirError: 1 } },
      );
    } catch (err) {
      s.fhirSync = 'failed';
      s.fhirError = (err as Error).message.slice(0, 500);
      this.logger.warn({ err, studyId: s._id }, 'imaging: writing FHIR resources failed; will retry');
      await this.studies.updateOne({ _id: s._id }, { $set: { fhirSync: 'failed', fhirError: s.fhirError } }).catch(() => undefined);
    }
    return s;
  }

  /** After a review: the finding's Observation becomes final (confirmed) or amended (rejected), radiologist as performer. */
  async syncReview(study: ImagingStudy, finding: TriageFinding): Promise<void> {
    const review = study.reviews.find((r) => r.finding === finding);
    if (!review || !study.fhirObservations.some((o) => o.finding === finding)) return; // written at the next sync
    try {
      await this.records.writeAsSystem(
        study.patientId,
        observationResource(study, finding, heatmapUrl(study, finding), review),
        `radiologist review of AI ${finding} result`,
      );
    } catch (err) {
      this.logger.warn({ err, studyId: study._id }, 'imaging: updating the FHIR Observation after review failed');
    }
  }

  /** Retries studies whose sync failed (EMR was down). */
  async retryFailed(limit = 20): Promise<number> {
    const stale = new Date(Date.now() - 2 * 60_000); // a 'pending' this old was cut off (crash, shutdown)
    const failed = await this.studies
      .find({
        $or: [{ fhirSync: 'failed' }, { fhirSync: 'pending', updatedAt: { $lt: stale } }],
        'triage.state': { $in: ['done', 'failed', 'unavailable', 'not_scored'] },
      })
      .sort({ createdAt: 1 })
      .limit(limit)
      .lean<ImagingStudy[]>();
    let synced = 0;
    for (const s of failed) if ((await this.sync(s)).fhirSync === 'synced') synced++;
    return synced;
  }
}

function heatmapUrl(study: ImagingStudy, finding: TriageFinding): string {
  return `${studyUrl(study._id)}/heatmap/${finding}.png`;
}

function requireId(id: string | undefined): string {
  if (!id) throw new Error('the record service returned a resource without id');
  return id;
}
