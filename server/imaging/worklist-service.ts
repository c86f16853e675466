/**
 * The radiologist worklist, reviews of AI findings and agreement figures. Access rule: a
 * radiologist sees and reviews only studies of patients PatientRecords.checkAccess lets them
 * read / write (care team, consult participation with consent, break-glass). No exceptions.
 *
 * The feed by facility: a consult accepted by a specialist of the radiologist's hospital, with an
 * AI-flagged study, takes the hospital's radiologists in as consult participants (role
 * "radiologist", audited) when they open their worklist; from then on the ordinary rule above
 * (consult participation + the patient's Consent) decides, exactly as for an invited radiologist.
 */
import { randomUUID } from 'node:crypto';
import type { Model } from 'mongoose';
import type { ConsultRequest } from '../../models/consult-request';
import type { User } from '../../models/user';
import type { RadiologistReviewRequest, TriageStatsResponse, WorklistItem, WorklistReviewStatus } from '../../contracts/imaging-api';
import type { ImagingStudy, StoredReviewSummary } from '../../models/imaging-study';
import type { RadiologistReview } from '../../models/triage-review';
import type { AuditLog } from '../audit/audit-log';
import type { PatientRecords } from '../emr/records-api';
import { ConflictError, InvalidInputError } from '../platform/errors';
import type { Caller, RequestContext } from '../platform/request-context';
import type { ImagingAccess } from './access';
import { agreement, type ReviewedFinding } from './agreement';
import type { ImagingFhirSync } from './fhir-sync';
import { agentOf, type ImagingService } from './imaging-service';
import type { ImagingNotifier } from './notifier';
import { findingViews, flagOf, studyUrl } from './views';

export interface WorklistDeps {
  studies: Model<ImagingStudy>;
  reviews: Model<RadiologistReview>;
  imaging: ImagingService;
  access: ImagingAccess;
  records: PatientRecords;
  fhir: ImagingFhirSync;
  notifier: ImagingNotifier;
  audit: AuditLog;
  /** For the feed by facility (consults accepted by the radiologist's hospital). */
  consults: Model<ConsultRequest>;
  users: Model<User>;
}

/** Consult states in which the accepting hospital's radiologists are taken in. */
const FEED_STATUSES = ['accepted', 'scheduled', 'in_progress', 'reported'] as const;
const FEED_RECENT_CLOSED_MS = 14 * 24 * 60 * 60 * 1000;

export class WorklistService {
  constructor(private readonly d: WorklistDeps) {}

  /** Flagged first, then highest score, then longest waiting; only patients the caller may read. */
  async worklist(caller: Caller, query: { status: WorklistReviewStatus | 'all'; limit: number }, ctx: RequestContext): Promise<WorklistItem[]> {
    if (caller.role === 'radiologist') await this.joinFacilityConsults(caller, ctx);
    const filter: Record<string, unknown> = { 'triage.state': 'done' };
    if (query.status !== 'all') filter.reviewStatus = query.status;
    const cursor = this.d.studies.find(filter).sort({ anyFlagged: -1, maxScore: -1, createdAt: 1 }).lean<ImagingStudy[]>().cursor({ batchSize: 100 });
    const allowed = new Map<string, boolean>();
    const headers = new Map<string, WorklistItem['patient']>();
    const items: WorklistItem[] = [];
    const now = Date.now();
    for await (const s of cursor as AsyncIterable<ImagingStudy>) {
      let ok = allowed.get(s.patientId);
      if (ok === undefined) {
        ok = await this.d.access.allows(caller, s.patientId, 'read');
        allowed.set(s.patientId, ok);
      }
      if (!ok) continue;
      if (!headers.has(s.patientId)) headers.set(s.patientId, await this.header(s.patientId));
      items.push({
        studyId: s._id,
        patient: headers.get(s.patientId) ?? null,
        uploadedAt: new Date(s.createdAt).toISOString(),
        waitingMinutes: Math.max(0, Math.round((now - new Date(s.createdAt).getTime()) / 60000)),
        previewUrl: `${studyUrl(s._id)}/preview.png`,
        width: s.width,
        height: s.height,
        anyFlagged: s.anyFlagged,
        maxScore: s.maxScore,
        ...(flagOf(s) ? { flag: flagOf(s) } : {}),
        findings: findingViews(s),
        lesions: (s.triage.lesions ?? []).map(({ finding, score, x_min, y_min, x_max, y_max }) => ({ finding, score, x_min, y_min, x_max, y_max })),
        reviewStatus: s.reviewStatus,
        ...(s.consultId ? { consultId: s.consultId } : {}),
        ...(s.modality ? { modality: s.modality } : {}),
      });
      if (items.length >= query.limit) break;
    }
    await cursor.close().catch(() => undefined);
    for (const patientId of new Set(items.map((i) => i.patient?.id ?? '').filter(Boolean))) {
      await this.d.audit.record({
        kind: 'imaging',
        action: 'R',
        success: true,
        outcomeDesc: 'radiologist worklist: AI triage results listed',
        agent: agentOf(caller, ctx),
        patientId,
        entities: items.filter((i) => i.patient?.id === patientId).map((i) => `ImagingStudy/${i.studyId}`),
        requestId: ctx.requestId,
      });
    }
    return items;
  }

  async review(
    caller: Caller,
    studyId: string,
    body: RadiologistReviewRequest,
    ctx: RequestContext,
  ): Promise<{ review: StoredReviewSummary; study: ImagingStudy }> {
    const study = await this.d.imaging.load(caller, studyId, ctx, 'write');
    if (study.triage.state !== 'done')
      throw new ConflictError(`This study has no AI triage result to review (triage ${study.triage.state})`, 'triage_not_done');
    const result = study.triage.findings?.find((f) => f.finding === body.finding);
    if (!result) throw new ConflictError(`This study has no AI result for ${body.finding}`, 'triage_not_done');
    const boxes = (body.boxes ?? []).map(({ x_min, y_min, x_max, y_max }) => ({ x_min, y_min, x_max, y_max }));
    boxes.forEach((b, i) => {
      if (b.x_max > study.width || b.y_max > study.height)
        throw new InvalidInputError(`boxes.${i}: outside the image (${study.width}×${study.height} pixels)`, [`boxes.${i}`], 422);
    });
    const reviewedAt = new Date();
    const entry: RadiologistReview = {
      _id: randomUUID(),
      studyId,
      patientId: study.patientId,
      finding: body.finding,
      decision: body.decision,
      modelFlagged: result.flagged,
      modelScore: result.score,
      modelVersion: study.triage.modelVersion ?? 'unknown',
      boxes,
      ...(body.comment ? { comment: body.comment } : {}),
      reviewerId: caller.userId,
      reviewerFacilityId: caller.facilityId,
      createdAt: reviewedAt,
    };
    await this.d.reviews.create(entry);
    const summary: StoredReviewSummary = {
      reviewId: entry._id,
      finding: body.finding,
      decision: body.decision,
      boxes,
      ...(body.comment ? { comment: body.comment } : {}),
      reviewerId: caller.userId,
      reviewedAt,
    };
    const reviews = [...study.reviews.filter((r) => r.finding !== body.finding), summary];
    const reviewStatus = reviewStatusOf(study, reviews);
    await this.d.studies.updateOne({ _id: studyId }, { $set: { reviews, reviewStatus } });
    const updated: ImagingStudy = { ...study, reviews, reviewStatus };
    await this.d.audit.record({
      kind: 'imaging',
      action: 'U',
      success: true,
      outcomeDesc: `radiologist ${body.decision} AI ${body.finding} ${result.flagged ? 'flag' : 'negative call'}${boxes.length ? ` with ${boxes.length} box(es)` : ''}`,
      agent: agentOf(caller, ctx),
      patientId: study.patientId,
      entities: [`ImagingStudy/${studyId}`, `RadiologistReview/${entry._id}`],
      requestId: ctx.requestId,
    });
    await this.d.fhir.syncReview(updated, body.finding);
    this.d.notifier.reviewed(updated, caller.userId);
    return { review: summary, study: updated };
  }

  /**
   * Takes the radiologist into every open (or recently closed) consult that a specialist of their
   * own hospital accepted and that has an AI-flagged study. Idempotent; one audit entry per consult joined.
   */
  async joinFacilityConsults(caller: Caller, ctx: RequestContext): Promise<number> {
    const since = new Date(Date.now() - FEED_RECENT_CLOSED_MS);
    const candidates = await this.d.consults
      .find(
        { 'participants.facilityId': caller.facilityId, $or: [{ status: { $in: [...FEED_STATUSES] } }, { status: 'closed', closedAt: { $gte: since } }] },
        { _id: 1, patientId: 1, participants: 1, imagingStudyIds: 1, assignedSpecialistId: 1 },
      )
      .limit(500)
      .lean<ConsultRequest[]>();
    const sentHere = candidates.filter(
      (c) =>
        !c.participants.some((p) => p.userId === caller.userId) &&
        c.participants.some((p) => p.role === 'specialist' && p.facilityId === caller.facilityId && p.userId === c.assignedSpecialistId),
    );
    if (!sentHere.length) return 0;
    const flagged = await this.d.studies
      .find(
        {
          anyFlagged: true,
          'triage.state': 'done',
          // eslint-disable-next-line @typescript-eslint/no-unnecessary-condition -- runtime input: the value comes from outside (database, request, parsed data) and may not match its declared type
          $or: [{ consultId: { $in: sentHere.map((c) => c._id) } }, { _id: { $in: sentHere.flatMap((c) => c.imagingStudyIds ?? []) } }],
        },
        { _id: 1, consultId: 1 },
      )
      .lean<Pick<ImagingStudy, '_id' | 'consultId'>[]>();
    // eslint-disable-next-line @typescript-eslint/no-unnecessary-condition -- runtime input: the value comes from outside (database, request, parsed data) and may not match its declared type
    const withFlag = sentHere.filter((c) => flagged.some((s) => s.consultId === c._id || (c.imagingStudyIds ?? []).includes(s._id)));
    if (!withFlag.length) return 0;
    const me = await this.d.users.findById(caller.userId, { displayName: 1 }).lean();
    let joined = 0;
    for (const c of withFlag) {
      const participant = {
        userId: caller.userId,
        role: 'radiologist' as const,
        facilityId: caller.facilityId,
        displayName: me?.displayName ?? caller.userId,
        admitted: false,
        addedAt: new Date(),
      };
      const res = await this.d.consults.updateOne({ _id: c._id, 'participants.userId': { $nin: [caller.userId] } }, { $push: { participants: participant } });
      if (res.modifiedCount !== 1) continue;
      joined++;
      await this.d.audit.record({
        kind: 'consult',
        action: 'U',
        success: true,
        outcomeDesc: `radiologist taken into consult by facility (accepted by a specialist of ${caller.facilityId}; AI-flagged study)`,
        agent: agentOf(caller, ctx),
        patientId: c.patientId,
        entities: [`ServiceRequest/${c._id}`],
        requestId: ctx.requestId,
      });
    }
    return joined;
  }

  /** Agreement per finding over the latest review of each reviewed study (counts only, no patient data). */
  async stats(): Promise<TriageStatsResponse> {
    const reviewed: ReviewedFinding[] = [];
    let studiesReviewed = 0;
    const cursor = this.d.studies
      .find({ 'triage.state': 'done' }, { reviews: 1, 'triage.findings': 1, 'triage.lesions': 1 })
      .lean<ImagingStudy[]>()
      .cursor({ batchSize: 500 });
    for await (const s of cursor as AsyncIterable<ImagingStudy>) {
      // eslint-disable-next-line @typescript-eslint/no-unnecessary-condition -- runtime input: the value comes from outside (database, request, parsed data) and may not match its declared type
      if (!s.reviews?.length) continue;
      studiesReviewed++;
      for (const r of s.reviews) {
        const f = s.triage.findings?.find((x) => x.finding === r.finding);
        if (f) reviewed.push({ finding: r.finding, modelFlagged: f.flagged, modelBoxes: s.triage.lesions ?? [], review: r });
      }
    }
    return { findings: [agreement('tb', reviewed), agreement('nodule', reviewed)], studiesReviewed, generatedAt: new Date().toISOString() };
  }

  private async header(patientId: string): Promise<WorklistItem['patient']> {
    try {
      const h = await this.d.records.patientHeader(patientId);
      // Minimum necessary: no citizen id on a worklist.
      return h
        ? { id: h.id, name: h.name, ...(h.birthDate ? { birthDate: h.birthDate } : {}), ...(h.gender ? { gender: h.gender } : {}) }
        : { id: patientId, name: '' };
    } catch {
      return { id: patientId, name: '' };
    }
  }
}

/** Reviewed when every flagged finding has a review; a study without flags once any finding is reviewed. */
export function reviewStatusOf(study: Pick<ImagingStudy, 'triage'>, reviews: readonly Pick<StoredReviewSummary, 'finding'>[]): WorklistReviewStatus {
  const flagged = (study.triage.findings ?? []).filter((f) => f.flagged).map((f) => f.finding);
  if (flagged.length === 0) return reviews.length > 0 ? 'reviewed' : 'open';
  return flagged.every((f) => reviews.some((r) => r.finding === f)) ? 'reviewed' : 'open';
}
