/** PNG decoding to grey [0,1] per the ML preprocessing contract: the fast path, else pngjs. */
import { inflateSync } from 'node:zlib';
import { PNG } from 'pngjs';
import { ImageDecodeError, describeThrown } from './errors';
import { toGray01 } from './gray';
import { type DecodeLimits, checkDimensions } from './limits';
import { decodePngFast, PNG_CHANNELS } from './png-fast';

export interface GreyImage {
  width: number;
  height: number;
  pixels: Float32Array;
}

export interface PngHeader {
  width: number;
  height: number;
  bitDepth: number;
  /** 0 grey, 2 RGB, 3 palette, 4 grey + alpha, 6 RGBA. */
  colorType: number;
}

/** Reads the IHDR chunk, which the PNG specification requires to come first. */
export function readPngHeader(buf: Uint8Array): PngHeader {
  if (buf.length < 33) throw new ImageDecodeError('truncated', 'PNG ends inside its header');
  const isIhdr = buf[12] === 0x49 && buf[13] === 0x48 && buf[14] === 0x44 && buf[15] === 0x52;
  if (!isIhdr) throw new ImageDecodeError('corrupt', 'PNG does not start with an IHDR chunk');
  const view = new DataView(buf.buffer, buf.byteOffset, buf.byteLength);
  return { width: view.getUint32(16), height: view.getUint32(20), bitDepth: buf[24] as number, colorType: buf[25] as number };
}

export function decodePng(buf: Uint8Array, limits: DecodeLimits): GreyImage {
  const header = readPngHeader(buf);
  checkDimensions(header.width, header.height, limits, 'PNG');
  const fast = decodePngFast(buf);
  if (fast) return fast;
  return decodePngWithPngjs(buf, header);
}

/** Adam7's seven passes: first column, first row, column step, row step. */
const ADAM7 = [
  [0, 0, 8, 8],
  [4, 0, 8, 8],
  [0, 4, 4, 8],
  [2, 0, 4, 4],
  [0, 2, 2, 4],
  [1, 0, 2, 2],
  [0, 1, 1, 2],
] as const;

/** Bytes of filtered image data the header promises (a filter byte per row), or undefined for a header pngjs will refuse. */
function expectedImageDataBytes(buf: Uint8Array, header: PngHeader): number | undefined {
  const channels = PNG_CHANNELS[header.colorType];
  if (channels === undefined || ![1, 2, 4, 8, 16].includes(header.bitDepth)) return undefined;
  const rowBytes = (w: number) => 1 + Math.ceil((w * channels * header.bitDepth) / 8);
  if (buf[28] !== 1) return header.height * rowBytes(header.width);
  let total = 0;
  for (const [x0, y0, dx, dy] of ADAM7) {
    const w = header.width > x0 ? Math.ceil((header.width - x0) / dx) : 0;
    const h = header.height > y0 ? Math.ceil((header.height - y0) / dy) : 0;
    if (w > 0 && h > 0) total += h * rowBytes(w);
  }
  return total;
}

/**
 * pngjs unfilters as many rows as the header promises whatever the image data holds, reading past
 * the end of a short stream into memory it never initialised (the pixels, and the preview made
 * from them, then differ from run to run and may carry other data). Short image data is refused
 * here first; a stream that does not inflate at all is left to pngjs, which words that error.
 */
function refuseShortImageData(buf: Uint8Array, header: PngHeader): void {
  const expected = expectedImageDataBytes(buf, header);
  if (expected === undefined) return;
  const view = new DataView(buf.buffer, buf.byteOffset, buf.byteLength);
  const idat: Uint8Array[] = [];
  for (let pos = 8; pos + 8 <= buf.length;) {
    const length = view.getUint32(pos);
    const type = Buffer.from(buf.buffer, buf.byteOffset + pos + 4, 4).toString('latin1');
    const end = Math.min(buf.length, pos + 8 + length);
    if (type === 'IDAT') idat.push(buf.subarray(pos + 8, end));
    if (type === 'IEND') break;
    pos = pos + 12 + length;
  }
  let inflated: number;
  try {
    inflated = inflateSync(Buffer.concat(idat), { maxOutputLength: expected + 1 }).length;
  } catch {
    return;
  }
  if (inflated < expected) {
    throw new ImageDecodeError('truncated', `PNG image data ends early: ${inflated} of the ${expected} bytes its header promises`);
  }
}

/** The reference decoder: every PNG the fast path declines, and the one that words the errors. */
export function decodePngWithPngjs(buf: Uint8Array, header: PngHeader = readPngHeader(buf)): GreyImage {
  refuseShortImageData(buf, header);
  let png: PNG;
  try {
    // skipRescale keeps 16-bit samples (as a Uint16Array) and low-depth grey at their own scale.
    png = PNG.sync.read(Buffer.from(buf.buffer, buf.byteOffset, buf.byteLength), { skipRescale: true });
  } catch (err) {
    const message = describeThrown(err);
    const code = /end of|unexpected end|truncat/i.test(message) ? 'truncated' : 'corrupt';
    throw new ImageDecodeError(code, `PNG could not be decoded: ${message}`, { cause: err });
  }
  if (png.width !== header.width || png.height !== header.height) {
    throw new ImageDecodeError('corrupt', 'PNG decoder output does not match its header');
  }
  const grey = header.colorType === 0 || header.colorType === 4;
  // pngjs always returns RGBA; palette images are expanded to 8-bit RGBA.
  const depth = header.colorType === 3 ? 8 : header.bitDepth;
  const data: ArrayLike<number> = png.data;
  const pixels = toGray01({
    width: png.width,
    height: png.height,
    stride: 4,
    colour: grey ? 'grey' : 'rgb',
    maxValue: 2 ** depth - 1,
    data,
  });
  return { width: png.width, height: png.height, pixels };
}
