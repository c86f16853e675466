/**
 * Resumable uploads (tus 1.0.0 under /api/uploads), shared by server/ and client/. The client
 * creates an upload with these Upload-Metadata keys, sends the bytes with PATCH (resuming from the
 * server's offset after a cut), then asks POST /api/uploads/:id/complete, which answers what the
 * multipart route of the purpose answers (an ImagingStudyView or a ConsultMessageView).
 */

export const UPLOADS_PATH = '/api/uploads';
export type UploadPurposeName = 'imaging' | 'attachment';

/** Upload-Metadata of an X-ray: the fields of POST /api/imaging/studies. */
export interface ImagingUploadMetadata {
  purpose: 'imaging';
  patientId: string;
  consultId?: string;
  /** SHA-256 of the whole file, lowercase hex, computed by the client before sending. */
  sha256: string;
  filename?: string;
}

/** Upload-Metadata of a consult chat attachment: the fields of POST /api/consults/:id/messages. */
export interface AttachmentUploadMetadata {
  purpose: 'attachment';
  consultId: string;
  /** The message text that goes with the file (may be empty). */
  text?: string;
  sha256: string;
  filename?: string;
}

export type UploadMetadata = ImagingUploadMetadata | AttachmentUploadMetadata;
