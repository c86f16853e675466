/** What a consult chat accepts as a file: the type is decided by the file's first bytes, never by its name. */
import type { ConsultAttachmentType } from '../../models/consult-attachment';

export const MAX_ATTACHMENT_BYTES = 10 * 1024 * 1024;

export function sniffAttachmentType(data: Uint8Array): ConsultAttachmentType | null {
  const starts = (sig: number[]) => data.length >= sig.length && sig.every((b, i) => data[i] === b);
  if (starts([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a])) return 'image/png';
  if (starts([0xff, 0xd8, 0xff])) return 'image/jpeg';
  if (starts([0x25, 0x50, 0x44, 0x46, 0x2d])) return 'application/pdf'; // %PDF-
  return null;
}

/** A safe file name for Content-Disposition (no path, no control or quote characters). */
export function safeFilename(name: string | undefined, type: ConsultAttachmentType): string {
  const base = (name ?? '').split(/[\\/]/).pop() ?? '';
  const cleaned = base
    .replace(/[^\p{L}\p{N}._ -]/gu, '_')
    .slice(0, 120)
    .trim();
  if (cleaned) return cleaned;
  return type === 'application/pdf' ? 'attachment.pdf' : type === 'image/png' ? 'attachment.png' : 'attachment.jpg';
}
