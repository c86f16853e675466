/** Container formats recognised by magic bytes. */
export type ImageFormat = 'png' | 'jpeg' | 'dicom';

const PNG_SIGNATURE = [0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a] as const;
const DICOM_PREAMBLE_LENGTH = 128;

/**
 * Identifies the container format from the content only (never from a file name):
 * - PNG: the 8-byte PNG signature;
 * - JPEG: SOI marker followed by another marker (FF D8 FF);
 * - DICOM Part 10: `DICM` at offset 128;
 * - DICOM raw data set without preamble or file meta (ACR-NEMA style): see {@link looksLikeRawDicomStream}.
 */
export function sniffFormat(buf: Uint8Array): ImageFormat | null {
  if (startsWith(buf, PNG_SIGNATURE)) return 'png';
  if (buf.length >= 3 && buf[0] === 0xff && buf[1] === 0xd8 && buf[2] === 0xff) return 'jpeg';
  if (hasPart10Prefix(buf)) return 'dicom';
  if (looksLikeRawDicomStream(buf)) return 'dicom';
  return null;
}

export function hasPart10Prefix(buf: Uint8Array): boolean {
  return buf.length >= DICOM_PREAMBLE_LENGTH + 4 && buf[128] === 0x44 && buf[129] === 0x49 && buf[130] === 0x43 && buf[131] === 0x4d;
}

/**
 * A little-endian data set with no preamble starts with a group-0008 element (identifying module).
 * Accepts implicit VR (a 32-bit length that fits in the buffer) and explicit VR (two uppercase
 * letters after the tag). Checking the first two elements keeps random bytes from matching.
 */
export function looksLikeRawDicomStream(buf: Uint8Array): boolean {
  if (buf.length < 16 || buf[0] !== 0x08 || buf[1] !== 0x00) return false;
  const view = new DataView(buf.buffer, buf.byteOffset, buf.byteLength);
  let pos = 0;
  // Walk the first two elements of group 0008 with ascending tags.
  let previousElement = -1;
  for (let i = 0; i < 2; i++) {
    if (pos + 8 > buf.length) return i > 0;
    const group = view.getUint16(pos, true);
    const element = view.getUint16(pos + 2, true);
    if (group !== 0x0008 || element <= previousElement) return i > 0 && group > 0x0008;
    previousElement = element;
    const header = rawElementHeader(buf, view, pos);
    if (header === null) return false;
    pos = header.valueOffset + header.length;
    if (pos > buf.length) return false;
  }
  return true;
}

/** Length and value offset of an element in a raw little-endian stream, explicit or implicit VR. */
export function rawElementHeader(buf: Uint8Array, view: DataView, pos: number): { explicit: boolean; valueOffset: number; length: number } | null {
  const v0 = buf[pos + 4] ?? 0;
  const v1 = buf[pos + 5] ?? 0;
  const explicit = isUpper(v0) && isUpper(v1);
  if (!explicit) {
    if (pos + 8 > buf.length) return null;
    const length = view.getUint32(pos + 4, true);
    return length === 0xffffffff ? null : { explicit, valueOffset: pos + 8, length };
  }
  const vr = String.fromCharCode(v0, v1);
  if (LONG_LENGTH_VRS.has(vr)) {
    if (pos + 12 > buf.length) return null;
    const length = view.getUint32(pos + 8, true);
    return length === 0xffffffff ? null : { explicit, valueOffset: pos + 12, length };
  }
  return { explicit, valueOffset: pos + 8, length: view.getUint16(pos + 6, true) };
}

const LONG_LENGTH_VRS = new Set(['OB', 'OD', 'OF', 'OL', 'OV', 'OW', 'SQ', 'SV', 'UC', 'UN', 'UR', 'UT', 'UV']);

function isUpper(c: number): boolean {
  return c >= 0x41 && c <= 0x5a;
}

function startsWith(buf: Uint8Array, prefix: readonly number[]): boolean {
  if (buf.length < prefix.length) return false;
  return prefix.every((b, i) => buf[i] === b);
}
