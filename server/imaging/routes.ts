/** HTTP routes: /api/imaging (any signed-in user, access via the patient) and /api/triage (radiologists). */
import { pipeline } from 'node:stream/promises';
import { Router, type RequestHandler, type Response } from 'express';
import multer from 'multer';
import type { ImagingStudyListResponse, ImagingStudyView, RadiologistReviewResponse, TriageStatsResponse, WorklistResponse } from '../../contracts/imaging-api';
import { InvalidInputError, PayloadTooLargeError } from '../platform/errors';
import { callerOf } from '../http/request-context';
import { parseInput } from '../http/validate';
import type { ImagingService, StudyFile } from './imaging-service';
import { heatmapParamSchema, listQuerySchema, reviewRequestSchema, studyIdParamSchema, uploadFieldsSchema, worklistQuerySchema } from './schemas';
import type { ApiDocs } from '../http/openapi';
import type { ImagingStorage } from './storage';
import { reviewView, studyView } from './views';
import type { WorklistService } from './worklist-service';

/** Multipart overhead allowed on top of the file limit before Content-Length alone rejects a request. */
const MULTIPART_SLACK = 256 * 1024;

/** Refuses a declared body larger than the limit before reading any of it (multer still enforces streamed bodies). */
export function rejectDeclaredTooLarge(maxBytes: number): RequestHandler {
  return (req, res, next) => {
    const declared = Number(req.header('content-length') ?? NaN);
    if (Number.isFinite(declared) && declared > maxBytes + MULTIPART_SLACK) {
      res.setHeader('Connection', 'close');
      next(new PayloadTooLargeError(`The upload is larger than the limit of ${maxBytes} bytes. Nothing was stored.`));
      return;
    }
    next();
  };
}

export const imagingDocs: ApiDocs = {
  'POST /studies': {
    summary: 'Upload a chest X-ray (DICOM Part 10, PNG or JPEG) for a patient; stored with its checksum and queued for AI triage',
    multipart: { fields: uploadFieldsSchema, file: 'file' },
    status: 201,
  },
  'GET /studies': { summary: "A patient's imaging studies with their triage state and results", query: listQuerySchema },
  'GET /studies/:id': { summary: 'One study: triage scores, flags, boxes in image pixels, model name/version/sha256, reviews' },
  'GET /studies/:id/preview.png': { summary: 'Display rendering of the image (windowed, 8-bit)', produces: 'image/png' },
  'GET /studies/:id/original': { summary: 'The file as uploaded (checksum verified on read)', produces: 'application/octet-stream' },
  'GET /studies/:id/heatmap/:finding.png': {
    summary: 'The AI heatmap overlay of a finding (tb | nodule), transparent PNG at image size',
    produces: 'image/png',
  },
};

export const triageDocs: ApiDocs = {
  'GET /worklist': {
    summary: 'Radiologist worklist: flagged studies first, then score, then waiting time',
    roles: ['radiologist'],
    query: worklistQuerySchema,
  },
  'POST /studies/:id/review': {
    summary: "Confirm or reject the AI's call on each finding, optionally correcting boxes and commenting; audited",
    roles: ['radiologist'],
    body: reviewRequestSchema,
    status: 201,
  },
  'GET /stats': { summary: 'Agreement figures: positive predictive value of flags per finding, lesions the model missed', roles: ['radiologist'] },
};

export function imagingRouter(imaging: ImagingService, storage: ImagingStorage, uploadMaxBytes: number): Router {
  const router = Router();
  const upload = multer({ storage: multer.memoryStorage(), limits: { fileSize: uploadMaxBytes, files: 1, fields: 5, fieldSize: 1024, parts: 6 } });

  const single = upload.single('file');
  const hardLimit = uploadMaxBytes + MULTIPART_SLACK;
  // multer drains the whole body before it reports LIMIT_FILE_SIZE (a 200 MB upload is read to the
  // end). Count the bytes ourselves: past the limit, answer 413 at once and close the connection.
  const receiveFile: RequestHandler = (req, res, next) => {
    let received = 0;
    let refused = false;
    const onData = (chunk: Buffer) => {
      received += chunk.length;
      if (received <= hardLimit || refused) return;
      refused = true;
      req.off('data', onData);
      // No "Connection: close": Node would then close the socket while the client is still sending,
      // and a client that gets EPIPE on its write never reads the 413.
      res.status(413).json({ error: 'payload_too_large', message: `The upload is larger than the limit of ${uploadMaxBytes} bytes. Nothing was stored.` });
      res.once('finish', () => {
        // Stop reading (no reset: the client must still be able to read the answer), then hang up.
        req.removeAllListeners('data');
        req.removeAllListeners('readable');
        req.pause();
        req.socket.pause();
        setTimeout(() => req.socket.destroy(), 5000).unref();
      });
    };
    req.on('data', onData);
    single(req, res, (err?: unknown) => {
      req.off('data', onData);
      if (refused) return;
      if (err) res.setHeader('Connection', 'close');
      next(err);
    });
  };

  router.post('/studies', rejectDeclaredTooLarge(uploadMaxBytes), receiveFile, async (req, res) => {
    const fields = parseInput(uploadFieldsSchema, req.body ?? {});
    if (!req.file) throw new InvalidInputError('file: a multipart field named "file" with the image is required', ['file']);
    const study = await imaging.upload({
      caller: callerOf(req),
      ctx: req.context,
      patientId: fields.patientId,
      ...(fields.consultId ? { consultId: fields.consultId } : {}),
      file: req.file.buffer,
    });
    const body: ImagingStudyView = studyView(study);
    res.status(201).location(`/api/imaging/studies/${study._id}`).json(body);
  });

  router.get('/studies', async (req, res) => {
    const { patientId } = parseInput(listQuerySchema, req.query, 'query');
    const studies = await imaging.list(callerOf(req), patientId, req.context);
    const body: ImagingStudyListResponse = { studies: studies.map(studyView) };
    res.setHeader('Cache-Control', 'private, no-store');
    res.json(body);
  });

  router.get('/studies/:id', async (req, res) => {
    const { id } = parseInput(studyIdParamSchema, req.params, 'params');
    const body: ImagingStudyView = studyView(await imaging.get(callerOf(req), id, req.context));
    res.setHeader('Cache-Control', 'private, no-store');
    res.json(body);
  });

  const sendFile =
    (which: (params: unknown) => { id: string; file: StudyFile }): RequestHandler =>
    async (req, res) => {
      const { id, file } = which(req.params);
      const found = await imaging.file(callerOf(req), id, file, req.context);
      await stream(res, storage, found, file.kind === 'original');
    };
  router.get(
    '/studies/:id/preview.png',
    sendFile((p) => ({ id: parseInput(studyIdParamSchema, p, 'params').id, file: { kind: 'preview' } })),
  );
  router.get(
    '/studies/:id/original',
    sendFile((p) => ({ id: parseInput(studyIdParamSchema, p, 'params').id, file: { kind: 'original' } })),
  );
  router.get(
    '/studies/:id/heatmap/:finding.png',
    sendFile((p) => {
      const { id, finding } = parseInput(heatmapParamSchema, p, 'params');
      return { id, file: { kind: 'heatmap', finding } };
    }),
  );
  return router;
}

export function triageRouter(worklist: WorklistService): Router {
  const router = Router();
  router.get('/worklist', async (req, res) => {
    const query = parseInput(worklistQuerySchema, req.query, 'query');
    const body: WorklistResponse = { items: await worklist.worklist(callerOf(req), query, req.context) };
    res.setHeader('Cache-Control', 'private, no-store');
    res.json(body);
  });
  router.post('/studies/:id/review', async (req, res) => {
    const { id } = parseInput(studyIdParamSchema, req.params, 'params');
    const input = parseInput(reviewRequestSchema, req.body ?? {});
    const { review, study } = await worklist.review(callerOf(req), id, input, req.context);
    const body: RadiologistReviewResponse = { review: reviewView(review), study: studyView(study) };
    res.status(201).json(body);
  });
  router.get('/stats', async (_req, res) => {
    const body: TriageStatsResponse = await worklist.stats();
    res.json(body);
  });
  return router;
}

async function stream(
  res: Response,
  storage: ImagingStorage,
  found: { relPath: string; contentType: string; filename: string },
  attachment: boolean,
): Promise<void> {
  if (!(await storage.exists(found.relPath))) throw new InvalidInputError('The image file is missing from the store', undefined, 410);
  res.status(200);
  res.type(found.contentType);
  res.setHeader('Cache-Control', 'private, no-store');
  res.setHeader('Content-Disposition', `${attachment ? 'attachment' : 'inline'}; filename="${found.filename}"`);
  await pipeline(storage.open(found.relPath), res);
}
