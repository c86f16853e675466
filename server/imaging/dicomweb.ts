/**
 * A minimal DICOMweb client (PS3.18) for a PACS such as Orthanc with its DICOMweb plugin:
 * STOW-RS (store), QIDO-RS (search studies), WADO-RS (retrieve an instance). Enabled by
 * HOICHAN_DICOMWEB_URL (e.g. http://127.0.0.1:8042/dicom-web); see docs/imaging.md.
 */
import { randomBytes } from 'node:crypto';

export interface DicomwebOptions {
  /** Base URL of the DICOMweb service, without a trailing slash. */
  url: string;
  /** Optional "user:password" for HTTP Basic authentication. */
  basicAuth?: string;
  timeoutMs?: number;
}

export class DicomwebError extends Error {
  override readonly name = 'DicomwebError';
  constructor(
    message: string,
    readonly status?: number,
  ) {
    super(message);
  }
}

/** A DICOM JSON data set (PS3.18 F.2): tag → {vr, Value}. */
export type DicomJson = Record<string, { vr: string; Value?: unknown[] }>;

export class DicomwebClient {
  private readonly base: string;

  constructor(private readonly options: DicomwebOptions) {
    this.base = options.url.replace(/\/+$/, '');
  }

  /** STOW-RS: stores one Part 10 instance. Returns the retrieve URL the PACS reports. */
  async store(part10: Uint8Array): Promise<{ retrieveUrl?: string; sopInstanceUid?: string }> {
    const boundary = `hoichan-${randomBytes(12).toString('hex')}`;
    const head = Buffer.from(`--${boundary}\r\nContent-Type: application/dicom\r\n\r\n`);
    const tail = Buffer.from(`\r\n--${boundary}--\r\n`);
    const res = await this.fetch('/studies', {
      method: 'POST',
      headers: { 'content-type': `multipart/related; type="application/dicom"; boundary=${boundary}`, accept: 'application/dicom+json' },
      body: Buffer.concat([head, part10, tail]),
    });
    const body = (await res.json().catch(() => ({}))) as DicomJson;
    const failed = body['00081198']?.Value;
    if (failed && failed.length) throw new DicomwebError(`the PACS refused the instance (${JSON.stringify(failed).slice(0, 200)})`, res.status);
    const ref = (body['00081199']?.Value?.[0] ?? {}) as DicomJson;
    const retrieveUrl = ref['00081190']?.Value?.[0];
    const sopInstanceUid = ref['00081155']?.Value?.[0];
    return { ...(typeof retrieveUrl === 'string' ? { retrieveUrl } : {}), ...(typeof sopInstanceUid === 'string' ? { sopInstanceUid } : {}) };
  }

  /** QIDO-RS: studies matching the query (e.g. {StudyInstanceUID}, {PatientID}). */
  async searchStudies(query: Record<string, string>): Promise<DicomJson[]> {
    const qs = new URLSearchParams(query).toString();
    const res = await this.fetch(`/studies${qs ? `?${qs}` : ''}`, { headers: { accept: 'application/dicom+json' } });
    if (res.status === 204) return [];
    return (await res.json()) as DicomJson[];
  }

  /** WADO-RS: the Part 10 bytes of one instance. */
  async retrieveInstance(studyUid: string, seriesUid: string, sopUid: string): Promise<Uint8Array> {
    const path = `/studies/${encodeURIComponent(studyUid)}/series/${encodeURIComponent(seriesUid)}/instances/${encodeURIComponent(sopUid)}`;
    // transfer-syntax=*: the stored bytes as they are (else Orthanc transcodes to explicit VR little endian).
    const res = await this.fetch(path, { headers: { accept: 'multipart/related; type="application/dicom"; transfer-syntax=*' } });
    const type = res.headers.get('content-type') ?? '';
    const body = new Uint8Array(await res.arrayBuffer());
    const parts = multipartParts(body, type);
    if (!parts[0]) throw new DicomwebError('the PACS answered without a DICOM part');
    return parts[0];
  }

  private async fetch(path: string, init: RequestInit): Promise<Response> {
    const headers = new Headers(init.headers);
    if (this.options.basicAuth) headers.set('authorization', `Basic ${Buffer.from(this.options.basicAuth).toString('base64')}`);
    let res: Response;
    try {
      res = await fetch(`${this.base}${path}`, { ...init, headers, signal: AbortSignal.timeout(this.options.timeoutMs ?? 30_000) });
    } catch (err) {
      throw new DicomwebError(`the PACS could not be reached: ${(err as Error).message}`);
    }
    if (!res.ok) throw new DicomwebError(`the PACS answered ${res.status} to ${init.method ?? 'GET'} ${path}`, res.status);
    return res;
  }
}

/** Splits a multipart/related body into its part bodies (headers dropped). */
export function multipartParts(body: Uint8Array, contentType: string): Uint8Array[] {
  const m = /boundary="?([^";]+)"?/i.exec(contentType);
  if (!m) return [body];
  const buf = Buffer.from(body.buffer, body.byteOffset, body.byteLength);
  const delimiter = Buffer.from(`--${m[1]}`);
  const parts: Uint8Array[] = [];
  let pos = buf.indexOf(delimiter);
  while (pos >= 0) {
    const start = pos + delimiter.length;
    if (buf[start] === 0x2d && buf[start + 1] === 0x2d) break; // closing delimiter
    const headerEnd = buf.indexOf('\r\n\r\n', start);
    if (headerEnd < 0) break;
    const next = buf.indexOf(Buffer.concat([Buffer.from('\r\n'), delimiter]), headerEnd + 4);
    if (next < 0) break;
    parts.push(new Uint8Array(buf.subarray(headerEnd + 4, next)));
    pos = next + 2;
  }
  return parts;
}
