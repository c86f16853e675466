/**
 * What a feature hands the resumable-upload mechanism for each kind of file it takes: how large
 * it may be, who may send it (decided before any byte is accepted) and what to do with the
 * verified bytes (the same service path as the feature's multipart route).
 */
import type { Caller, RequestContext } from '../platform/request-context';

/** Upload-Metadata as sent by the client (tus: key → decoded value); the purpose validates its own keys. */
export type UploadFields = Readonly<Record<string, string | undefined>>;

export interface CompletedUpload {
  /** HTTP status of the answer (201 for a created study or message). */
  status: number;
  /** The view the feature's multipart route answers. */
  body: unknown;
  /** Where the created resource lives, when it has its own URL. */
  location?: string;
}

export interface UploadPurpose {
  /** The `purpose` metadata value this answers ('imaging', 'attachment'). */
  name: string;
  /** Largest file accepted, in bytes; checked against Upload-Length at creation. */
  maxBytes: number;
  /**
   * At creation, before any byte: may this caller upload this file? Validates the fields (400) and
   * throws a DomainError (403, audited as access-denied) when not.
   */
  authorize(caller: Caller, fields: UploadFields, ctx: RequestContext): Promise<void>;
  /** With every byte received and the checksum verified: the feature's own upload path (it checks access again). */
  complete(caller: Caller, fields: UploadFields, file: { bytes: Buffer; filename?: string }, ctx: RequestContext): Promise<CompletedUpload>;
}
