/** PNG decoding to grey [0,1] per the ML preprocessing contract: the fast path, else pngjs. */
import { PNG } from 'pngjs';
import { ImageDecodeError, describeThrown } from './errors';
import { toGray01 } from './gray';
import { type DecodeLimits, checkDimensions } from './limits';
import { decodePngFast } from './png-fast';

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

/** The reference decoder: every PNG the fast path declines, and the one that words the errors. */
export function decodePngWithPngjs(buf: Uint8Array, header: PngHeader = readPngHeader(buf)): GreyImage {
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
