/**
 * Upload and reading of imaging studies. Upload = access check → type by content → decode and
 * triage in worker threads → (only if the image decodes) store files atomically + the study →
 * FHIR resources → events. The request waits for triage (1–3 s), progress goes out on the socket.
 */
import { randomUUID } from 'node:crypto';
import type { Model } from 'mongoose';
import { sniffFormat } from '../../ml/decode';
import { InputGateError, TriageBusyError } from '../../ml/inference/errors';
import type { TriageFinding, TriageState } from '../../contracts/imaging-api';
import type { ImagingStudy, StoredTriage } from '../../models/imaging-study';
import type { AuditLog } from '../audit/audit-log';
import { NotFoundError, ServiceUnavailableError, UnsupportedMediaTypeError } from '../platform/errors';
import type { Caller, RequestContext } from '../platform/request-context';
import type { Logger } from '../observability/logger';
import type { ImagingAccess } from './access';
import type { DicomwebClient } from './dicomweb';
import { ImageRejectedError, isDecodeError } from './errors';
import type { ImagingFhirSync } from './fhir-sync';
import type { ImagingNotifier } from './notifier';
import type { DecodedImageSummary, PreviewPool } from './preview-pool';
import { sha256Hex, type ImagingStorage } from './storage';
import type { TriageAvailability, TriageResult } from './triage-runner';
import { contentTypeOf } from './views';
import { triagePriority } from '../../contracts/triage-priority';

export interface UploadInput {
  caller: Caller;
  ctx: RequestContext;
  patientId: string;
  consultId?: string;
  file: Uint8Array;
}

export interface ImagingServiceDeps {
  studies: Model<ImagingStudy>;
  storage: ImagingStorage;
  previews: PreviewPool;
  /** Resolves once the engine has started (or failed to): start-up of the platform does not wait for it. */
  triage: Promise<TriageAvailability>;
  access: ImagingAccess;
  fhir: ImagingFhirSync;
  notifier: ImagingNotifier;
  audit: AuditLog;
  logger: Logger;
  /** DICOMweb PACS for DICOM uploads (STOW-RS), when configured. */
  pacs?: DicomwebClient;
}

export type StudyFile = { kind: 'preview' } | { kind: 'original' } | { kind: 'heatmap'; finding: TriageFinding };

export class ImagingService {
  /** Overlay PNGs being rendered, by path. */
  readonly #rendering = new Map<string, Promise<void>>();

  constructor(private readonly d: ImagingServiceDeps) {}

  async upload(input: UploadInput): Promise<ImagingStudy> {
    const { caller, ctx, patientId, file } = input;
    await this.d.access.enforce(caller, patientId, 'write', ctx);
    if (file.length === 0) throw new ImageRejectedError('empty', 'the uploaded file is empty');
    const format = sniffFormat(file);
    if (!format)
      throw new UnsupportedMediaTypeError(
        'The file is not a PNG, JPEG or DICOM image (the type is read from the file content, not its name). Nothing was stored.',
      );

    const studyId = randomUUID();
    const notify = (state: TriageState, message?: string) => this.d.notifier.progress(caller.userId, studyId, patientId, state, message);
    notify('queued');

    // Decode (preview) and triage run side by side in worker threads; the event loop only waits.
    const triage = await this.d.triage;
    const previewP = this.d.previews.render(file);
    const triageP: Promise<TriageResult> | null = triage.available ? triage.engine.analyse(file) : null;
    triageP?.catch(() => undefined);
    notify('running');
    let summary: DecodedImageSummary;
    try {
      summary = await previewP;
    } catch (err) {
      const message = isDecodeError(err) ? err.message : (err as Error).message;
      notify('failed', message);
      if (isDecodeError(err)) throw ImageRejectedError.from(err);
      throw err;
    }
    let result: TriageResult | null = null;
    let storedTriage: StoredTriage;
    if (!triageP) {
      storedTriage = { state: 'unavailable', message: `AI triage is not available on this server: ${triage.available ? '' : triage.reason}` };
    } else {
      try {
        result = await triageP;
        storedTriage = toStoredTriage(result, studyId);
      } catch (err) {
        if (isDecodeError(err)) {
          notify('failed', err.message);
          throw ImageRejectedError.from(err);
        }
        if (err instanceof InputGateError) {
          // Not a frontal chest X-ray: stored and viewable, never scored, never a finding.
          const g = err.decision;
          storedTriage = { state: 'not_scored', message: g.reason, gate: storedGate(g) };
        } else if (err instanceof TriageBusyError) {
          notify('failed', err.message);
          throw new ServiceUnavailableError(`AI triage is busy (${err.message}). Nothing was stored; upload again in a minute.`);
        } else {
          this.d.logger.error({ err, studyId }, 'imaging: triage failed');
          storedTriage = { state: 'failed', message: `AI triage failed: ${(err as Error).message}` };
        }
      }
    }

    // Store: files first (atomic each), then the study; undo the files if the study cannot be saved.
    const sha256 = sha256Hex(file);
    let original: { relPath: string; created: boolean } | undefined;
    let study: ImagingStudy;
    try {
      original = await this.d.storage.putOriginal(file, sha256);
      const previewPath = await this.d.storage.putDerived(studyId, 'preview.png', summary.preview);
      if (result) {
        // The grids only: each overlay PNG is rendered when someone first opens it (see file()).
        for (const f of ['tb', 'nodule'] as const) await this.d.storage.putDerived(studyId, heatmapGridFile(f), result.heatmaps[f].cells);
      }
      const now = new Date();
      const findings = storedTriage.findings ?? [];
      const dicom = summary.dicom;
      const doc: Omit<ImagingStudy, 'createdAt' | 'updatedAt'> = {
        _id: studyId,
        patientId,
        ...(input.consultId ? { consultId: input.consultId } : {}),
        uploadedBy: caller.userId,
        uploaderFacilityId: caller.facilityId,
        format: summary.format,
        contentType: contentTypeOf(summary.format),
        size: file.length,
        sha256,
        originalPath: original.relPath,
        previewPath,
        width: summary.width,
        height: summary.height,
        ...(dicom?.modality ? { modality: dicom.modality } : {}),
        ...(dicom?.studyInstanceUid ? { studyInstanceUid: dicom.studyInstanceUid } : {}),
        ...(dicom?.seriesInstanceUid ? { seriesInstanceUid: dicom.seriesInstanceUid } : {}),
        ...(dicom?.sopInstanceUid ? { sopInstanceUid: dicom.sopInstanceUid } : {}),
        ...(dicom?.bodyPart ? { bodyPart: dicom.bodyPart } : {}),
        triage: { ...storedTriage, ...(storedTriage.state === 'done' ? { completedAt: now } : {}) },
        anyFlagged: findings.some((f) => f.flagged),
        maxScore: triagePriority(findings),
        reviews: [],
        reviewStatus: 'open',
        fhirSync: 'pending',
        fhirObservations: [],
      };
      study = (await this.d.studies.create(doc)).toObject();
    } catch (err) {
      await this.undoFiles(studyId, sha256, original);
      notify('failed', 'the study could not be stored');
      throw err;
    }

    await this.d.audit.record({
      kind: 'imaging',
      action: 'C',
      success: true,
      outcomeDesc: `chest X-ray stored (${study.format}, ${study.size} bytes, sha256 ${sha256.slice(0, 12)}…), triage ${study.triage.state}`,
      agent: agentOf(caller, ctx),
      patientId,
      entities: [`ImagingStudy/${studyId}`],
      requestId: ctx.requestId,
    });
    this.d.notifier.stored(study);
    study = await this.d.fhir.sync(study);
    if (this.d.pacs && study.format === 'dicom') study = await this.sendToPacs(study, file);
    if (study.triage.state === 'done') {
      notify('done');
      this.d.notifier.completed(study);
    } else {
      notify(study.triage.state === 'unavailable' || study.triage.state === 'not_scored' ? study.triage.state : 'failed', study.triage.message);
    }
    return study;
  }

  async list(caller: Caller, patientId: string, ctx: RequestContext): Promise<ImagingStudy[]> {
    await this.d.access.enforce(caller, patientId, 'read', ctx);
    const studies = await this.d.studies.find({ patientId }).sort({ createdAt: -1 }).limit(200).lean<ImagingStudy[]>();
    await this.d.audit.record({
      kind: 'imaging',
      action: 'R',
      success: true,
      outcomeDesc: `imaging studies listed (${studies.length})`,
      agent: agentOf(caller, ctx),
      patientId,
      entities: studies.slice(0, 20).map((s) => `ImagingStudy/${s._id}`),
      requestId: ctx.requestId,
    });
    return studies;
  }

  /** Loads a study and checks the caller's access to its patient (403 audited, 404 when absent). */
  async load(caller: Caller, studyId: string, ctx: RequestContext, action: 'read' | 'write' = 'read'): Promise<ImagingStudy> {
    const study = await this.d.studies.findById(studyId).lean<ImagingStudy>();
    if (!study) throw new NotFoundError('No such imaging study');
    await this.d.access.enforce(caller, study.patientId, action, ctx, [`ImagingStudy/${studyId}`]);
    return study;
  }

  async get(caller: Caller, studyId: string, ctx: RequestContext): Promise<ImagingStudy> {
    const study = await this.load(caller, studyId, ctx);
    await this.d.audit.record({
      kind: 'imaging',
      action: 'R',
      success: true,
      outcomeDesc: 'imaging study and AI triage result read',
      agent: agentOf(caller, ctx),
      patientId: study.patientId,
      entities: [`ImagingStudy/${studyId}`],
      requestId: ctx.requestId,
    });
    return study;
  }

  /** A file of the study (access-checked, audited): where it is on disk and its content type. */
  async file(caller: Caller, studyId: string, which: StudyFile, ctx: RequestContext): Promise<{ relPath: string; contentType: string; filename: string }> {
    const study = await this.load(caller, studyId, ctx);
    let out: { relPath: string; contentType: string; filename: string };
    if (which.kind === 'original')
      out = {
        relPath: study.originalPath,
        contentType: study.contentType,
        filename: `${studyId}.${study.format === 'dicom' ? 'dcm' : study.format === 'png' ? 'png' : 'jpg'}`,
      };
    else if (which.kind === 'preview') out = { relPath: study.previewPath, contentType: 'image/png', filename: `${studyId}-preview.png` };
    else {
      const f = study.triage.findings?.find((x) => x.finding === which.finding);
      if (!f) throw new NotFoundError('This study has no AI heatmap for that finding');
      out = { relPath: f.heatmapPath, contentType: 'image/png', filename: `${studyId}-heatmap-${which.finding}.png` };
      await this.#ensureOverlay(study, which.finding, f.heatmapPath);
    }
    await this.d.audit.record({
      kind: 'imaging',
      action: 'R',
      success: true,
      outcomeDesc: `image read: ${which.kind}${which.kind === 'heatmap' ? ` ${which.finding}` : ''}`,
      agent: agentOf(caller, ctx),
      patientId: study.patientId,
      entities: [`ImagingStudy/${studyId}`],
      requestId: ctx.requestId,
    });
    return out;
  }

  /**
   * The overlay PNG is rendered on its first read from the grid triage stored, in the preview
   * worker, then kept: later reads, and studies whose overlays were rendered at upload (before
   * grids), are a plain file read. Concurrent first reads share one render.
   */
  async #ensureOverlay(study: ImagingStudy, finding: TriageFinding, pngPath: string): Promise<void> {
    if (await this.d.storage.exists(pngPath)) return;
    let rendering = this.#rendering.get(pngPath);
    if (!rendering) {
      rendering = this.#renderOverlay(study, finding, pngPath).finally(() => this.#rendering.delete(pngPath));
      this.#rendering.set(pngPath, rendering);
    }
    await rendering;
  }

  async #renderOverlay(study: ImagingStudy, finding: TriageFinding, pngPath: string): Promise<void> {
    const gridPath = this.d.storage.derivedPath(study._id, heatmapGridFile(finding));
    // Neither file: the route answers 410 as for any file missing from the store.
    if (!(await this.d.storage.exists(gridPath))) return;
    const png = await this.d.previews.renderOverlay(await this.d.storage.read(gridPath), study.width, study.height);
    await this.d.storage.writeAtomic(pngPath, png);
  }

  /** Best effort: the study is ours either way; the PACS copy is recorded as stored or failed. */
  private async sendToPacs(study: ImagingStudy, file: Uint8Array): Promise<ImagingStudy> {
    let update: Pick<ImagingStudy, 'pacsSync' | 'pacsError'>;
    try {
      if (!this.d.pacs) throw new Error('no PACS is configured');
      await this.d.pacs.store(file);
      update = { pacsSync: 'stored' };
    } catch (err) {
      this.d.logger.warn({ err, studyId: study._id }, 'imaging: STOW-RS to the PACS failed');
      update = { pacsSync: 'failed', pacsError: (err as Error).message.slice(0, 300) };
    }
    await this.d.studies.updateOne({ _id: study._id }, { $set: update });
    return { ...study, ...update };
  }

  private async undoFiles(studyId: string, sha256: string, original?: { relPath: string; created: boolean }): Promise<void> {
    // Keep a shared original another study refers to (two uploads of the same bytes).
    const shared = original?.created ? await this.d.studies.exists({ sha256 }).catch(() => null) : null;
    await this.d.storage
      .removeStudyFiles(studyId, shared ? undefined : original)
      .catch((err: unknown) => this.d.logger.error({ err, studyId }, 'imaging: cleaning up after a failed upload failed'));
  }
}

/** The stored heatmap grid of a finding, next to its overlay PNG in derived/<studyId>/. */
export function heatmapGridFile(finding: TriageFinding): string {
  return `heatmap-${finding}.grid`;
}

export function agentOf(caller: Caller, ctx: RequestContext) {
  return { userId: caller.userId, role: caller.role, facilityId: caller.facilityId, ip: ctx.ip };
}

function toStoredTriage(r: TriageResult, studyId: string): StoredTriage {
  return {
    state: 'done',
    modelName: r.model.name,
    modelVersion: r.model.version,
    modelSha256: r.model.sha256,
    models: r.model.models.map((m) => ({ name: m.name, version: m.version, sha256: m.sha256 })),
    findings: (['tb', 'nodule'] as const).map((f) => ({
      finding: f,
      score: r[f].score,
      flagged: r[f].flagged,
      threshold: r[f].threshold,
      calibrated: r[f].calibrated === true,
      heatmapPath: `derived/${studyId}/heatmap-${f}.png`,
    })),
    gate: storedGate(r.gate),
    lesions: r.lesions.map((l) => ({ finding: l.finding, score: l.score, x_min: l.x_min, y_min: l.y_min, x_max: l.x_max, y_max: l.y_max })),
    timings: { decodeMs: r.timings.decodeMs, preprocessMs: r.timings.preprocessMs, inferenceMs: r.timings.inferenceMs, postprocessMs: r.timings.postprocessMs },
  };
}

function storedGate(g: InputGateError['decision']): NonNullable<StoredTriage['gate']> {
  return {
    by: g.by,
    reason: g.reason,
    ...(Number.isFinite(g.chestProbability) ? { chestProbability: g.chestProbability } : {}),
    ...(g.model ? { modelVersion: g.model.version, ...(g.model.sha256 ? { modelSha256: g.model.sha256 } : {}) } : {}),
  };
}
