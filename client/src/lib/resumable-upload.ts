/**
 * Resumable upload over tus (/api/uploads): a 20 MB X-ray on a 384 kbps district link takes
 * minutes, and a cut in the middle must not send it again from zero. tus-js-client retries with
 * backoff and resumes from the server's offset (HEAD), also after a reload (the upload URL is kept
 * in localStorage under a fingerprint of the file and its purpose). The SHA-256 of the whole file
 * is computed here first and checked by the server at /complete, which then answers what the
 * feature's multipart route answers.
 */
import { defaultOptions, Upload, type DetailedError, type PreviousUpload } from 'tus-js-client';
import { UPLOADS_PATH, type AttachmentUploadMetadata, type ImagingUploadMetadata } from '../../../contracts/upload-api';
import { ApiRequestError, type ApiClient, type UploadProgress } from '../api/client';

/** Up to about seven minutes of outage are ridden out before the upload gives up (and can be resumed later). */
const RETRY_DELAYS_MS = [0, 1_000, 3_000, 5_000, 10_000, 15_000, 30_000, 30_000, 60_000, 60_000, 60_000, 60_000, 60_000];

/** tus needs crypto.subtle for the checksum, which browsers give only to secure contexts (HTTPS, localhost). */
export function resumableUploadsAvailable(): boolean {
  // eslint-disable-next-line @typescript-eslint/no-unnecessary-condition -- undefined outside secure contexts, whatever the DOM types say
  return typeof window !== 'undefined' && window.isSecureContext && globalThis.crypto?.subtle !== undefined;
}

export async function sha256Hex(file: Blob): Promise<string> {
  const digest = await crypto.subtle.digest('SHA-256', await file.arrayBuffer());
  return Array.from(new Uint8Array(digest), (b) => b.toString(16).padStart(2, '0')).join('');
}

/** What the caller says about the file; the checksum and the name are added here. */
type Fields = Omit<ImagingUploadMetadata, 'sha256' | 'filename'> | Omit<AttachmentUploadMetadata, 'sha256' | 'filename'>;

function fieldsOf(fields: Fields): Record<string, string> {
  return Object.fromEntries(Object.entries(fields).flatMap(([k, v]) => (typeof v === 'string' ? [[k, v]] : [])));
}

function errorOf(err: Error | DetailedError): ApiRequestError {
  if (err instanceof ApiRequestError) return err;
  const res = 'originalResponse' in err ? err.originalResponse : null;
  const status = res?.getStatus() ?? 0;
  if (!res || status === 0)
    return new ApiRequestError(0, 'network', 'The connection was lost and the upload could not resume in time; try again to continue where it stopped');
  try {
    const body = JSON.parse(res.getBody()) as { error?: unknown; message?: unknown };
    if (typeof body.error === 'string' && typeof body.message === 'string') return new ApiRequestError(status, body.error, body.message);
  } catch {
    /* a tus protocol answer in plain text */
  }
  return new ApiRequestError(status, `http_${status}`, res.getBody().trim() || `HTTP ${status}`);
}

/**
 * Sends `file` for `fields` (the purpose and its ids) and resolves with the answer of /complete.
 * `signal` abandons the upload (its bytes are dropped on the server).
 */
export async function resumableUpload<T>(
  api: ApiClient,
  file: File,
  fields: Fields,
  onProgress: (p: UploadProgress) => void,
  signal?: AbortSignal,
): Promise<T> {
  signal?.throwIfAborted();
  const sha256 = await sha256Hex(file);
  const metadata = { ...fieldsOf(fields), sha256, filename: file.name };
  const fingerprint = `hoichan-upload:${Object.entries(metadata)
    .map(([k, v]) => `${k}=${v}`)
    .join('&')}`;

  const url = await new Promise<string>((resolve, reject) => {
    const upload = new Upload(file, {
      endpoint: UPLOADS_PATH,
      metadata,
      retryDelays: RETRY_DELAYS_MS,
      // Kept until /complete has answered, so a reload after the last byte still finds the upload.
      removeFingerprintOnSuccess: false,
      fingerprint: () => Promise.resolve(fingerprint),
      onBeforeRequest: async (req) => {
        const token = await api.freshAccessToken();
        if (token) req.setHeader('Authorization', `Bearer ${token}`);
      },
      onShouldRetry: (err) => {
        const status = err.originalResponse?.getStatus() ?? 0;
        // 401: the token ran out during a long outage; the retry asks for a fresh one (while the session lasts).
        // 409/423: the offset moved or the upload is busy: HEAD again and go on from there.
        if (status === 401) return api.hasSession;
        return status === 0 || status === 409 || status === 423 || status >= 500;
      },
      onProgress: (loaded, total) => onProgress({ loaded, total }),
      onSuccess: () => (upload.url ? resolve(upload.url) : reject(new ApiRequestError(0, 'network', 'The server gave no upload address'))),
      onError: (err) => reject(errorOf(err)),
    });
    signal?.addEventListener(
      'abort',
      () => {
        void upload.abort(true).catch(() => undefined);
        reject(new ApiRequestError(0, 'aborted', 'Upload cancelled'));
      },
      { once: true },
    );
    void upload
      .findPreviousUploads()
      .then((previous: PreviousUpload[]) => {
        const last = previous.at(-1);
        if (last) upload.resumeFromPreviousUpload(last);
        upload.start();
      })
      .catch((err: unknown) => reject(err instanceof Error ? errorOf(err) : new ApiRequestError(0, 'network', String(err))));
  });

  const result = await completeWithRetries<T>(api, url, signal);
  await forget(fingerprint);
  return result;
}

/** /complete answers the same when asked again, so a lost answer is asked for again. */
async function completeWithRetries<T>(api: ApiClient, url: string, signal?: AbortSignal): Promise<T> {
  const id = url.split('/').pop() ?? '';
  for (const delay of RETRY_DELAYS_MS) {
    if (delay) await new Promise((r) => setTimeout(r, delay));
    signal?.throwIfAborted();
    try {
      return await api.request<T>('POST', `${UPLOADS_PATH}/${encodeURIComponent(id)}/complete`, {});
    } catch (err) {
      // An answer from the server is final; only a lost connection (fetch's TypeError) is retried.
      if (err instanceof ApiRequestError || signal?.aborted) throw err;
    }
  }
  throw new ApiRequestError(0, 'network', 'The upload arrived but its confirmation did not; try again to finish it');
}

async function forget(fingerprint: string): Promise<void> {
  try {
    const storage = defaultOptions.urlStorage;
    for (const u of await storage.findUploadsByFingerprint(fingerprint)) await storage.removeUpload(u.urlStorageKey);
  } catch {
    /* storage unavailable: the entry expires with the server's upload */
  }
}
