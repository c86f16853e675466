/**
 * Locates the bytes of the FIRST frame inside the Pixel Data element, checking every offset
 * against the buffer before touching it. Native frames are returned as views (no copy);
 * encapsulated frames are the concatenation of their fragments.
 */
import type { Element, Fragment } from 'dicom-parser';
import { ImageDecodeError } from '../errors';
import type { DicomHeader } from './parse';
import type { PixelEncoding } from './transfer-syntax';

/** Bytes one native (uncompressed) frame occupies; YBR_FULL_422 stores 2 samples per pixel. */
export function nativeFrameBytes(header: DicomHeader): number {
  const bytesPerSample = header.bitsAllocated / 8;
  const samplesStored = header.photometric === 'YBR_FULL_422' ? 2 : header.samplesPerPixel;
  return header.rows * header.columns * samplesStored * bytesPerSample;
}

export function nativeFirstFrame(buf: Uint8Array, header: DicomHeader, pixelData: Element): Uint8Array {
  const needed = nativeFrameBytes(header);
  const end = pixelData.dataOffset + pixelData.length;
  if (end > buf.length) {
    throw new ImageDecodeError('truncated', `pixel data declares ${pixelData.length} bytes but the file ends after ${buf.length - pixelData.dataOffset}`);
  }
  if (pixelData.length < needed) {
    // The element is intact but smaller than Rows × Columns × Samples × BitsAllocated: the header lies.
    throw new ImageDecodeError('dimensions', `pixel data holds ${pixelData.length} bytes, ${header.rows}×${header.columns} needs ${needed}`);
  }
  return buf.subarray(pixelData.dataOffset, pixelData.dataOffset + needed);
}

export function encapsulatedFirstFrame(buf: Uint8Array, header: DicomHeader, pixelData: Element, encoding: PixelEncoding): Uint8Array {
  const fragments = pixelData.fragments ?? [];
  if (fragments.length === 0) throw new ImageDecodeError('no_pixel_data', 'encapsulated pixel data has no fragments');
  for (const f of fragments) {
    if (f.position < 0 || f.length < 0 || f.position + f.length > buf.length) {
      throw new ImageDecodeError('truncated', 'an encapsulated pixel data fragment runs past the end of the file');
    }
  }
  return concatenate(buf, firstFrameFragments(buf, header, pixelData, fragments, encoding));
}

function firstFrameFragments(buf: Uint8Array, header: DicomHeader, pixelData: Element, fragments: Fragment[], encoding: PixelEncoding): Fragment[] {
  if (header.numberOfFrames <= 1) return fragments;
  const bot = pixelData.basicOffsetTable ?? [];
  if (bot.length >= 2) {
    const start = bot[0] ?? 0;
    const end = bot[1] ?? Number.MAX_SAFE_INTEGER;
    const selected = fragments.filter((f) => f.offset >= start && f.offset < end);
    if (selected.length > 0) return selected;
    throw new ImageDecodeError('corrupt', 'basic offset table does not match the fragments');
  }
  if (fragments.length === header.numberOfFrames || encoding === 'rle') return fragments.slice(0, 1);
  // No offset table and more fragments than frames: JPEG-family and JPEG 2000 codestreams end
  // with FFD9 (EOI / EOC), possibly followed by one padding byte.
  const selected: Fragment[] = [];
  for (const f of fragments) {
    selected.push(f);
    if (endsWithEoi(buf, f)) return selected;
  }
  throw new ImageDecodeError('corrupt', 'cannot find the end of the first frame among the fragments');
}

function endsWithEoi(buf: Uint8Array, f: Fragment): boolean {
  const end = f.position + f.length;
  for (let back = 2; back <= 3 && end - back >= f.position; back++) {
    if (buf[end - back] === 0xff && buf[end - back + 1] === 0xd9) return true;
  }
  return false;
}

function concatenate(buf: Uint8Array, fragments: Fragment[]): Uint8Array {
  const first = fragments[0];
  if (fragments.length === 1 && first) return buf.subarray(first.position, first.position + first.length);
  const total = fragments.reduce((sum, f) => sum + f.length, 0);
  const out = new Uint8Array(total);
  let o = 0;
  for (const f of fragments) {
    out.set(buf.subarray(f.position, f.position + f.length), o);
    o += f.length;
  }
  return out;
}
