/**
 * DICOM RLE Lossless decoder (PS3.5 Annex G). A frame is one fragment: a 64-byte header (number of
 * segments, then 15 little-endian uint32 segment offsets) followed by PackBits-encoded segments.
 * Segments hold one byte plane each, ordered sample by sample and, within a sample, most
 * significant byte first (for 16-bit: MSB plane, then LSB plane).
 */
import { ImageDecodeError } from '../errors';

const HEADER_BYTES = 64;
const MAX_SEGMENTS = 15;

/**
 * Decodes one RLE frame to interleaved little-endian samples (pixel-major: pixel 0 sample 0,
 * pixel 0 sample 1, …), i.e. PlanarConfiguration 0 regardless of how the encoder split planes.
 */
export function decodeRleFrame(fragment: Uint8Array, pixelCount: number, samplesPerPixel: number, bytesPerSample: number): Uint8Array {
  if (fragment.length < HEADER_BYTES) throw new ImageDecodeError('corrupt', 'RLE frame is shorter than its 64-byte header');
  const view = new DataView(fragment.buffer, fragment.byteOffset, fragment.byteLength);
  const segmentCount = view.getUint32(0, true);
  const expectedSegments = samplesPerPixel * bytesPerSample;
  if (segmentCount !== expectedSegments || segmentCount > MAX_SEGMENTS) {
    throw new ImageDecodeError('corrupt', `RLE header declares ${segmentCount} segments, expected ${expectedSegments}`);
  }
  const offsets: number[] = [];
  for (let s = 0; s < segmentCount; s++) offsets.push(view.getUint32(4 + 4 * s, true));
  offsets.push(fragment.length);

  const bytesPerPixel = samplesPerPixel * bytesPerSample;
  const out = new Uint8Array(pixelCount * bytesPerPixel);
  const plane = new Uint8Array(pixelCount);
  for (let s = 0; s < segmentCount; s++) {
    const start = offsets[s] as number;
    const end = offsets[s + 1] as number;
    if (start < HEADER_BYTES || end < start || end > fragment.length) {
      throw new ImageDecodeError('corrupt', `RLE segment ${s} has invalid bounds ${start}..${end}`);
    }
    const produced = unpackBits(fragment, start, end, plane);
    if (produced < pixelCount) {
      throw new ImageDecodeError('corrupt', `RLE segment ${s} decodes to ${produced} bytes, expected ${pixelCount}`);
    }
    const sample = Math.floor(s / bytesPerSample);
    // Segment order within a sample is MSB first; little-endian output puts the MSB last.
    const byteInSample = bytesPerSample - 1 - (s % bytesPerSample);
    const base = sample * bytesPerSample + byteInSample;
    for (let i = 0, o = base; i < pixelCount; i++, o += bytesPerPixel) out[o] = plane[i] as number;
  }
  return out;
}

/**
 * PackBits: header byte n (as int8) 0..127 → copy n+1 literal bytes; -127..-1 → repeat the next
 * byte 1-n times; -128 → no-op. Stops when `out` is full (encoders may pad a segment to even
 * length). Returns the number of bytes written.
 */
export function unpackBits(src: Uint8Array, start: number, end: number, out: Uint8Array): number {
  let pos = start;
  let o = 0;
  const capacity = out.length;
  while (pos < end && o < capacity) {
    const header = src[pos++] as number;
    if (header < 128) {
      const count = header + 1;
      if (pos + count > end) throw new ImageDecodeError('corrupt', 'RLE literal run overruns its segment');
      const take = Math.min(count, capacity - o);
      out.set(src.subarray(pos, pos + take), o);
      o += take;
      pos += count;
    } else if (header > 128) {
      if (pos >= end) throw new ImageDecodeError('corrupt', 'RLE replicate run overruns its segment');
      const value = src[pos++] as number;
      const take = Math.min(257 - header, capacity - o);
      out.fill(value, o, o + take);
      o += take;
    }
  }
  return o;
}
