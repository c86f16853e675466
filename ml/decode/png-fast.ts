/* eslint-disable @typescript-eslint/no-non-null-assertion -- byte kernel: every index is bounded by its loop or a length check; noUncheckedIndexedAccess types each array read as possibly undefined */
/**
 * Fast path for the PNGs radiographs come as: non-interlaced, 8- or 16-bit grey, grey + alpha,
 * RGB or RGBA, no tRNS/PLTE. One native inflate, one unfilter pass straight into the samples and
 * the contract's grey conversion (toGray01), instead of pngjs's per-row callbacks and RGBA copy
 * (≈ 4× faster on a 512² grey PNG).
 *
 * It only ever answers when pngjs would decode the same file to the same pixels: anything it does
 * not handle or finds wrong (CRC, a chunk it does not know, an inflated size that is not exact,
 * an unknown filter type, bytes after IEND) returns null and the caller decodes with pngjs,
 * so errors keep pngjs's messages and codes.
 */
import { crc32, inflateSync } from 'node:zlib';
import { toGray01 } from './gray';

const SIGNATURE = [0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a];
const IHDR = 0x49484452;
const IDAT = 0x49444154;
const IEND = 0x49454e44;
const PLTE = 0x504c5445;
const TRNS = 0x74524e53;
const GAMA = 0x67414d41;
/** Samples per pixel of each PNG colour type (0 grey, 2 RGB, 3 palette index, 4 grey + alpha, 6 RGBA). */
export const PNG_CHANNELS: Readonly<Record<number, number>> = { 0: 1, 2: 3, 3: 1, 4: 2, 6: 4 };

export interface FastPng {
  readonly width: number;
  readonly height: number;
  readonly pixels: Float32Array;
}

/** Decodes `buf` to grey [0,1], or returns null when pngjs must decide (unusual or broken file). */
export function decodePngFast(buf: Uint8Array): FastPng | null {
  try {
    return decode(buf);
  } catch {
    return null; // inflate or a bounds check failed: pngjs reports it in its own words
  }
}

function decode(buf: Uint8Array): FastPng | null {
  if (buf.length < 8 + 25 + 12) return null;
  for (let i = 0; i < 8; i++) if (buf[i] !== SIGNATURE[i]) return null;
  const view = new DataView(buf.buffer, buf.byteOffset, buf.byteLength);

  let width = 0;
  let height = 0;
  let depth = 0;
  let channels = 0;
  const idat: Uint8Array[] = [];
  let pos = 8;
  let ended = false;
  while (!ended) {
    if (pos + 12 > buf.length) return null;
    const length = view.getUint32(pos);
    const type = view.getUint32(pos + 4);
    const dataStart = pos + 8;
    const dataEnd = dataStart + length;
    if (dataEnd + 4 > buf.length) return null;
    // pngjs checks every chunk's CRC (over type + data).
    if (crc32(buf.subarray(pos + 4, dataEnd)) !== view.getUint32(dataEnd)) return null;
    if (pos === 8) {
      if (type !== IHDR || length !== 13) return null;
      width = view.getUint32(dataStart);
      height = view.getUint32(dataStart + 4);
      depth = buf[dataStart + 8]!;
      const colorType = buf[dataStart + 9]!;
      const [compression, filter, interlace] = [buf[dataStart + 10], buf[dataStart + 11], buf[dataStart + 12]];
      channels = colorType === 3 ? 0 : (PNG_CHANNELS[colorType] ?? 0); // palette images are pngjs's
      if ((depth !== 8 && depth !== 16) || channels === 0 || compression !== 0 || filter !== 0 || interlace !== 0) return null;
      if (width === 0 || height === 0) return null;
    } else if (type === IDAT) {
      idat.push(buf.subarray(dataStart, dataEnd));
    } else if (type === IEND) {
      ended = true;
    } else if (type === IHDR || type === PLTE || type === TRNS || (type === GAMA && length < 4)) {
      // A second header, a palette, a transparent colour (pngjs zeroes those pixels) or a short gAMA.
      return null;
    } else if (!(buf[pos + 4]! & 0x20)) {
      return null; // an unknown critical chunk
    }
    pos = dataEnd + 4;
  }
  if (pos !== buf.length || idat.length === 0) return null;

  const bytesPerPixel = (channels * depth) / 8;
  const rowBytes = width * bytesPerPixel;
  const expected = (rowBytes + 1) * height;
  // One output chunk of the exact size: zlib's default 16 KiB chunks cost twice the inflate itself.
  const inflated = inflateSync(idat.length === 1 ? idat[0]! : Buffer.concat(idat), { chunkSize: Math.max(64, expected), maxOutputLength: expected });
  if (inflated.length !== expected) return null;
  const raw = unfilter(inflated, rowBytes, height, bytesPerPixel);
  if (!raw) return null;

  if (depth === 8 && channels === 1) return { width, height, pixels: grey8(raw) };
  const maxValue = depth === 8 ? 255 : 65535;
  let data: Uint8Array | Uint16Array = raw;
  if (depth === 16) {
    const samples = new Uint16Array(raw.length >> 1);
    for (let i = 0, j = 0; i < samples.length; i++, j += 2) samples[i] = (raw[j]! << 8) | raw[j + 1]!;
    data = samples;
  }
  const colour = channels >= 3 ? 'rgb' : 'grey';
  return { width, height, pixels: toGray01({ width, height, stride: channels, colour, maxValue, data }) };
}

/** v / 255 as toGray01 computes it (float64, stored as float32), through a table: the common case. */
const GREY8 = Float32Array.from({ length: 256 }, (_, v) => v / 255);
function grey8(raw: Uint8Array): Float32Array {
  const out = new Float32Array(raw.length);
  for (let i = 0; i < raw.length; i++) out[i] = GREY8[raw[i]!]!;
  return out;
}

/** Reverses the per-row filters (PNG spec §9) into a new buffer without the filter bytes; null on an unknown filter type. */
function unfilter(inflated: Uint8Array, rowBytes: number, height: number, bpp: number): Uint8Array | null {
  const out = new Uint8Array(rowBytes * height);
  for (let y = 0; y < height; y++) {
    const src = y * (rowBytes + 1) + 1;
    const filter = inflated[src - 1]!;
    const o = y * rowBytes;
    const up = o - rowBytes; // previous row in `out`; only read when y > 0
    switch (filter) {
      case 0:
        out.set(inflated.subarray(src, src + rowBytes), o);
        break;
      case 1:
        for (let x = 0; x < bpp; x++) out[o + x] = inflated[src + x]!;
        for (let x = bpp; x < rowBytes; x++) out[o + x] = inflated[src + x]! + out[o + x - bpp]!;
        break;
      case 2:
        if (y === 0) out.set(inflated.subarray(src, src + rowBytes), o);
        else for (let x = 0; x < rowBytes; x++) out[o + x] = inflated[src + x]! + out[up + x]!;
        break;
      case 3:
        if (y === 0) {
          for (let x = 0; x < bpp; x++) out[o + x] = inflated[src + x]!;
          for (let x = bpp; x < rowBytes; x++) out[o + x] = inflated[src + x]! + (out[o + x - bpp]! >> 1);
        } else {
          for (let x = 0; x < bpp; x++) out[o + x] = inflated[src + x]! + (out[up + x]! >> 1);
          for (let x = bpp; x < rowBytes; x++) out[o + x] = inflated[src + x]! + ((out[o + x - bpp]! + out[up + x]!) >> 1);
        }
        break;
      case 4:
        if (y === 0) {
          // Paeth with no row above reduces to the left neighbour (filter 1).
          for (let x = 0; x < bpp; x++) out[o + x] = inflated[src + x]!;
          for (let x = bpp; x < rowBytes; x++) out[o + x] = inflated[src + x]! + out[o + x - bpp]!;
        } else {
          for (let x = 0; x < bpp; x++) out[o + x] = inflated[src + x]! + out[up + x]!;
          for (let x = bpp; x < rowBytes; x++) {
            const a = out[o + x - bpp]!;
            const b = out[up + x]!;
            const c = out[up + x - bpp]!;
            const p = a + b - c;
            const pa = Math.abs(p - a);
            const pb = Math.abs(p - b);
            const pc = Math.abs(p - c);
            out[o + x] = inflated[src + x]! + (pa <= pb && pa <= pc ? a : pb <= pc ? b : c);
          }
        }
        break;
      default:
        return null;
    }
  }
  return out;
}
