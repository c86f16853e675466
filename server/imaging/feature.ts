/**
 * Imaging intake, AI triage and the radiologist worklist. Creates the triage engine
 * (ml/inference) when model weights are present; without them the feature still starts, stores
 * uploads and marks their triage 'unavailable'. See docs/imaging.md.
 */
import { consultRequestModel } from '../../models/consult-request';
import { imagingStudyModel } from '../../models/imaging-study';
import { radiologistReviewModel } from '../../models/triage-review';
import { userModel } from '../../models/user';
import { TriageEngine } from '../../ml/inference/triage-engine';
import { requireRole } from '../auth/middleware';
import type { PatientRecords } from '../emr/records-api';
import type { Feature, FeatureContext } from '../platform/feature';
import { LeasedJob } from '../platform/lease';
import { ImagingAccess } from './access';
import { DicomwebClient, type DicomwebOptions } from './dicomweb';
import { ImagingFhirSync } from './fhir-sync';
import { ImagingService } from './imaging-service';
import { ImagingNotifier } from './notifier';
import { PreviewPool } from './preview-pool';
import { imagingDocs, imagingRouter, triageDocs, triageRouter } from './routes';
import { imagingUploadPurpose } from './upload-purpose';
import { ImagingStorage } from './storage';
import type { TriageAnalyser, TriageAvailability } from './triage-runner';
import { WorklistService } from './worklist-service';

export interface ImagingFeatureOptions {
  /** Stand-in engine (tests); default: TriageEngine.create() on config.imaging.triageWeightsDir or ml/weights. */
  triage?: () => Promise<TriageAnalyser>;
  /** Retry failed FHIR writes this often (ms); 0 disables. */
  fhirRetryMs?: number;
  /** DICOMweb PACS (tests); default: config.imaging.dicomweb (HOICHAN_DICOMWEB_URL), off when unset. */
  dicomweb?: DicomwebOptions | null;
}

const FHIR_RETRY_MS = 5 * 60_000;

export async function createImagingFeature(ctx: FeatureContext, deps: { records: PatientRecords }, options: ImagingFeatureOptions = {}): Promise<Feature> {
  const { conn, config, logger } = ctx;
  const storage = new ImagingStorage(config.dataDir);
  await storage.init();
  // The ONNX sessions load in the background; the first upload waits for them if needed.
  const triage = startTriage(ctx, options);
  const previews = new PreviewPool(1);
  const studies = imagingStudyModel(conn);
  const reviews = radiologistReviewModel(conn);
  const access = new ImagingAccess(deps.records, ctx.audit);
  const fhir = new ImagingFhirSync(studies, deps.records, logger);
  const notifier = new ImagingNotifier(ctx.realtime, ctx.events);
  const pacsOptions = options.dicomweb !== undefined ? options.dicomweb : config.imaging.dicomweb;
  const pacs = pacsOptions ? new DicomwebClient(pacsOptions) : undefined;
  const imaging = new ImagingService({ studies, storage, previews, triage, access, fhir, notifier, audit: ctx.audit, logger, ...(pacs ? { pacs } : {}) });
  const worklist = new WorklistService({
    studies,
    reviews,
    imaging,
    access,
    records: deps.records,
    fhir,
    notifier,
    audit: ctx.audit,
    consults: consultRequestModel(conn),
    users: userModel(conn),
  });

  // Studies whose FHIR resources could not be written are retried by one process at a time (the
  // writes carry no precondition): the holder of the `imaging-fhir-retry` lease.
  const retryMs = options.fhirRetryMs ?? FHIR_RETRY_MS;
  const retry =
    retryMs > 0
      ? new LeasedJob(
          ctx.shared.lease('imaging-fhir-retry', 2 * retryMs + 10_000),
          retryMs,
          async () => {
            await fhir.retryFailed();
          },
          (err: unknown) => logger.warn({ err }, 'imaging: FHIR retry failed'),
        )
      : undefined;

  return {
    name: 'imaging',
    uploadPurposes: [imagingUploadPurpose(imaging, access, config.http.uploadMaxBytes)],
    mounts: [
      { path: '/api/imaging', guards: [ctx.requireAuth], router: imagingRouter(imaging, storage, config.http.uploadMaxBytes), docs: imagingDocs },
      { path: '/api/triage', guards: [ctx.requireAuth, requireRole('radiologist')], router: triageRouter(worklist), docs: triageDocs },
    ],
    close: async () => {
      await retry?.stop();
      await previews.close();
      const t = await triage;
      if (t.available) await t.engine.close();
    },
  };
}

async function startTriage(ctx: FeatureContext, options: ImagingFeatureOptions): Promise<TriageAvailability> {
  try {
    const weightsDir = ctx.config.imaging.triageWeightsDir;
    const engine = options.triage ? await options.triage() : await TriageEngine.create(weightsDir ? { weightsDir } : {});
    return { available: true, engine };
  } catch (err) {
    const reason = `the chest X-ray models could not be loaded (${(err as Error).message})`;
    ctx.logger.warn({ err }, `imaging: AI triage unavailable: ${reason}`);
    return { available: false, reason };
  }
}
