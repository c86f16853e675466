/**
 * Resumable uploads (issue 16): the tus 1.0.0 protocol under /api/uploads (`@tus/server` with
 * `@tus/file-store` in <data>/uploads), so an X-ray cut at 60 % over a district link resumes from
 * there instead of from zero. hoichan decides around the protocol:
 * - creation (POST): the metadata is validated and the purpose's access decision is made (audited
 *   when refused) before tus accepts a byte; the upload then belongs to its creator (server-set
 *   `owner` metadata) and HEAD/PATCH/DELETE/complete by anyone else is a 404;
 * - completion (POST /:id/complete): every byte must be there, the SHA-256 the client computed
 *   before sending must match what arrived (else 409 and the bytes are dropped), then the bytes go
 *   through the feature's own upload path (access again, decoding, triage, FHIR, audit). The answer
 *   is kept, so a client whose connection dropped during /complete gets it again by asking again;
 * - expiry: uploads (finished or not) and kept answers older than `expiryMs` are swept.
 */
import { AsyncLocalStorage } from 'node:async_hooks';
import { createHash } from 'node:crypto';
import { mkdir, readdir, readFile, rm, stat, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { FileStore } from '@tus/file-store';
import { Metadata, Server as TusServer, type Upload } from '@tus/server';
import { Router, type Request, type RequestHandler, type Response } from 'express';
import { z } from 'zod';
import { ConflictError, DomainError, InvalidInputError, NotFoundError, PayloadTooLargeError, TooManyRequestsError } from '../platform/errors';
import type { ApiDocs } from '../http/openapi';
import { callerOf } from '../http/request-context';
import { parseInput } from '../http/validate';
import type { Logger } from '../observability/logger';
import type { CompletedUpload, UploadFields, UploadPurpose } from './upload-purpose';

export const uploadDocs: ApiDocs = {
  'POST /': {
    summary:
      'tus 1.0.0 creation of a resumable upload (headers Tus-Resumable: 1.0.0, Upload-Length, Upload-Metadata: purpose "imaging" with patientId [consultId] or "attachment" with consultId [text], sha256 of the whole file, filename). Access is decided here, before any byte; 201 with Location',
    status: 201,
  },
  'HEAD /:id': { summary: 'tus: the bytes the server holds (Upload-Offset) and the length, to resume from there; the uploader only' },
  'PATCH /:id': {
    summary: 'tus: append bytes at Upload-Offset (Content-Type: application/offset+octet-stream); 204 with the new Upload-Offset; the uploader only',
    status: 204,
  },
  'DELETE /:id': { summary: 'tus termination: abandon the upload and drop its bytes; the uploader only', status: 204 },
  'POST /:id/complete': {
    summary:
      "With every byte received: verify the client's SHA-256 (409 checksum_mismatch and nothing stored when it differs), then store it as its purpose's multipart route does (X-ray: POST /api/imaging/studies; attachment: POST /api/consults/:id/messages) and answer that route's view. Asking again answers the same",
    status: 201,
  },
};

/** tus ids are 16 random bytes in hex (`Uid.rand`). */
const idParam = z.object({ id: z.string().regex(/^[0-9a-f]{32}$/) });
const lengthHeader = z
  .string({ error: 'Upload-Length is required (deferred lengths are not accepted)' })
  .regex(/^[0-9]{1,15}$/, 'Upload-Length must be a whole number of bytes')
  .transform(Number)
  .refine((n) => n > 0, 'Upload-Length: an empty file is not an upload');
const commonFields = (purposes: readonly string[]) =>
  z.object({
    purpose: z.enum(purposes as [string, ...string[]]),
    sha256: z
      .string()
      .regex(/^[0-9a-fA-F]{64}$/, 'must be the SHA-256 of the whole file in hex')
      .transform((s) => s.toLowerCase()),
    filename: z.string().max(255).optional(),
  });

/** A finished upload's answer, kept so that asking /complete again answers the same. */
interface KeptAnswer extends CompletedUpload {
  owner: string;
}

export interface ResumableUploadsOptions {
  dataDir: string;
  /** Where the router is mounted; tus needs it for the Location it answers. */
  mountPath: string;
  purposes: readonly UploadPurpose[];
  logger: Logger;
  /** Uploads and kept answers older than this are removed (default 24 h). */
  expiryMs?: number;
  /** How often the sweep runs (default hourly; 0: never, tests call sweep()). */
  sweepEveryMs?: number;
  /** Uploads one user may hold at once (default 20): a bound on the disk one account can fill. */
  maxOpenPerUser?: number;
}

export interface ResumableUploads {
  router: Router;
  docs: ApiDocs;
  /** Removes what has expired; returns how many uploads and kept answers went. */
  sweep(now?: number): Promise<number>;
  close(): Promise<void>;
}

export async function createResumableUploads(opts: ResumableUploadsOptions): Promise<ResumableUploads> {
  const expiryMs = opts.expiryMs ?? 24 * 3600_000;
  const partialDir = path.join(opts.dataDir, 'uploads', 'partial');
  const answersDir = path.join(opts.dataDir, 'uploads', 'answers');
  await mkdir(partialDir, { recursive: true });
  await mkdir(answersDir, { recursive: true });
  const purposes = new Map(opts.purposes.map((p) => [p.name, p]));
  const fieldsSchema = commonFields([...purposes.keys()]);
  const maxOpen = opts.maxOpenPerUser ?? 20;

  const store = new FileStore({ directory: partialDir, expirationPeriodInMilliseconds: expiryMs });
  // The creator of an upload, from the request being handled, for tus's creation hook.
  const creator = new AsyncLocalStorage<string>();
  const tus = new TusServer({
    path: opts.mountPath,
    datastore: store,
    relativeLocation: true,
    // The per-purpose limit is checked at creation; this bounds every PATCH.
    maxSize: Math.max(...opts.purposes.map((p) => p.maxBytes)),
    // Same-origin SPA with bearer tokens: no cross-origin uploads.
    allowedOrigins: [],
    onUploadCreate: (_req, upload) => {
      const owner = creator.getStore();
      if (!owner) return Promise.reject(new Error('tus creation outside an authenticated request'));
      // The client cannot choose the owner: whatever it sent under that key is replaced.
      return Promise.resolve({ metadata: { ...upload.metadata, owner } });
    },
    onResponseError: (_req, err) => {
      if (err instanceof Error) opts.logger.warn({ err }, 'uploads: tus request failed');
      return undefined;
    },
  });

  const find = async (id: string): Promise<Upload | null> => {
    try {
      return await store.getUpload(id);
    } catch {
      return null;
    }
  };
  const remove = async (id: string) => {
    await store.remove(id).catch(() => undefined);
  };
  const openUploadsOf = async (userId: string): Promise<number> => {
    let n = 0;
    for (const id of (await store.configstore.list?.()) ?? []) if ((await store.configstore.get(id))?.metadata?.owner === userId) n++;
    return n;
  };
  const answerPath = (id: string) => path.join(answersDir, `${id}.json`);
  const keptAnswer = async (id: string): Promise<KeptAnswer | null> => {
    try {
      return JSON.parse(await readFile(answerPath(id), 'utf8')) as KeptAnswer;
    } catch {
      return null;
    }
  };

  const idOf = (req: Request): string => {
    const parsed = idParam.safeParse(req.params);
    if (!parsed.success) throw new NotFoundError('No such upload');
    return parsed.data.id;
  };
  /** The caller's own upload, or 404 (another user's upload is not revealed to exist). */
  const ownUpload = async (req: Request): Promise<Upload> => {
    const id = idOf(req);
    const upload = await find(id);
    if (!upload || upload.metadata?.owner !== callerOf(req).userId) throw new NotFoundError(`No upload ${id} of yours (it may have expired or been completed)`);
    return upload;
  };
  const fieldsOf = (metadata: Upload['metadata']): UploadFields =>
    Object.fromEntries(Object.entries(metadata ?? {}).map(([k, v]) => [k, v ?? undefined] as const));
  const handOver: RequestHandler = async (req, res) => {
    await tus.handle(req, res);
  };

  const router = Router();
  router.post('/', async (req, res) => {
    const caller = callerOf(req);
    if (req.header('upload-concat') !== undefined) throw new InvalidInputError('Upload-Concat: concatenated uploads are not accepted', ['Upload-Concat']);
    const length = parseInput(lengthHeader, req.header('upload-length'), 'Upload-Length');
    let raw: Record<string, string | null>;
    try {
      raw = Metadata.parse(req.header('upload-metadata') ?? undefined);
    } catch {
      throw new InvalidInputError('Upload-Metadata: not tus metadata (comma-separated "key base64value" pairs)', ['Upload-Metadata']);
    }
    const fields = fieldsOf(raw);
    const common = parseInput(fieldsSchema, fields, 'metadata');
    const purpose = purposes.get(common.purpose);
    if (!purpose) throw new InvalidInputError(`metadata.purpose: unknown purpose ${common.purpose}`, ['metadata.purpose']);
    if (length > purpose.maxBytes)
      throw new PayloadTooLargeError(
        `The file (${length} bytes) is larger than the limit of ${purpose.maxBytes} bytes for ${purpose.name}. Nothing was stored.`,
      );
    await purpose.authorize(caller, fields, req.context);
    if ((await openUploadsOf(caller.userId)) >= maxOpen)
      throw new TooManyRequestsError(`You have ${maxOpen} uploads under way: finish or abandon (DELETE) one first, or wait for them to expire`, 60);
    await creator.run(caller.userId, () => tus.handle(req, res));
  });
  const owned: RequestHandler = async (req, _res, next) => {
    await ownUpload(req);
    next();
  };
  router.head('/:id', owned, handOver);
  router.patch('/:id', owned, handOver);
  router.delete('/:id', owned, handOver);

  // One completion at a time per upload in this process (the bytes are read and stored once).
  const completing = new Set<string>();
  const answer = (res: Response, kept: CompletedUpload) => {
    if (kept.location) res.location(kept.location);
    res.status(kept.status).json(kept.body);
  };
  router.post('/:id/complete', async (req, res) => {
    const caller = callerOf(req);
    const id = idOf(req);
    const kept = await keptAnswer(id);
    if (kept && kept.owner === caller.userId) {
      answer(res, kept);
      return;
    }
    const upload = await ownUpload(req);
    if (completing.has(id)) throw new ConflictError('This upload is being completed by another request; ask again in a moment', 'upload_completing');
    completing.add(id);
    try {
      if (upload.size === undefined || upload.offset !== upload.size)
        throw new ConflictError(
          `Only ${upload.offset} of ${upload.size ?? '?'} bytes have arrived: send the rest (PATCH from offset ${upload.offset}) first`,
          'upload_incomplete',
        );
      const fields = fieldsOf(upload.metadata);
      const common = parseInput(fieldsSchema, fields, 'metadata');
      const purpose = purposes.get(common.purpose);
      if (!purpose) throw new NotFoundError(`No upload ${id} of yours`);
      const bytes = await readFile(path.join(partialDir, id));
      const received = createHash('sha256').update(bytes).digest('hex');
      if (bytes.length !== upload.size || received !== common.sha256) {
        await remove(id);
        throw new ConflictError(
          `The file that arrived (SHA-256 ${received}) is not the file that was sent (SHA-256 ${common.sha256}): it was damaged on the way. Nothing was stored; upload it again.`,
          'checksum_mismatch',
        );
      }
      let done: CompletedUpload;
      try {
        done = await purpose.complete(caller, fields, { bytes, ...(common.filename ? { filename: common.filename } : {}) }, req.context);
      } catch (err) {
        // Refused for what the file or the caller is (not an image, no access): the bytes are of no
        // further use. A 5xx (triage busy, record service down) keeps them for another /complete.
        if (err instanceof DomainError && err.status < 500) await remove(id);
        throw err;
      }
      const toKeep: KeptAnswer = { owner: caller.userId, ...done };
      await writeFile(answerPath(id), JSON.stringify(toKeep));
      await remove(id);
      answer(res, done);
    } finally {
      completing.delete(id);
    }
  });

  const sweep = async (now = Date.now()): Promise<number> => {
    let removed = 0;
    for (const id of (await store.configstore.list?.()) ?? []) {
      const info = await store.configstore.get(id);
      const created = info?.creation_date ? Date.parse(info.creation_date) : NaN;
      if (Number.isFinite(created) && now - created > expiryMs) {
        await remove(id);
        removed++;
      }
    }
    for (const name of await readdir(answersDir)) {
      const file = path.join(answersDir, name);
      const s = await stat(file).catch(() => null);
      if (s && now - s.mtimeMs > expiryMs) {
        await rm(file, { force: true });
        removed++;
      }
    }
    return removed;
  };
  const every = opts.sweepEveryMs ?? 3600_000;
  const timer =
    every > 0
      ? setInterval(
          () =>
            void sweep().then(
              (n) => n > 0 && opts.logger.info({ removed: n }, 'uploads: expired uploads removed'),
              (err: unknown) => opts.logger.warn({ err }, 'uploads: sweep failed'),
            ),
          every,
        )
      : undefined;
  timer?.unref();

  return {
    router,
    docs: uploadDocs,
    sweep,
    close: () => {
      if (timer) clearInterval(timer);
      return Promise.resolve();
    },
  };
}
