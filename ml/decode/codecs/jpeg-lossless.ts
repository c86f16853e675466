/** JPEG Lossless, process 14 (DICOM .57 and .70 / SV1) through jpeg-lossless-decoder-js (pure JS). */
import { ImageDecodeError } from '../errors';
import type { CodecOutput } from './emscripten';

interface LosslessDecoder {
  decode(buffer: ArrayBuffer, offset: number, length: number, numBytes?: number): Uint8Array | Uint16Array;
  xDim: number;
  yDim: number;
  /** Next output row: equals yDim once every row was written. */
  yLoc: number;
  numComp: number;
  precision: number | undefined;
  /** Reads past the end of `buffer` return undefined (decoded as garbage) instead of throwing. */
  stream: { index: number; buffer: Uint8Array } | undefined;
}

interface LosslessModule {
  Decoder: new () => LosslessDecoder;
}

let losslessModule: LosslessModule | undefined;

function loadModule(): LosslessModule {
  // The package ships no type declarations; the shape above is what release/cjs/lossless.cjs exports.
  // eslint-disable-next-line @typescript-eslint/no-require-imports -- lazy: the (CommonJS, wasm) codec is loaded only when a study needs it
  losslessModule ??= require('jpeg-lossless-decoder-js') as LosslessModule;
  return losslessModule;
}

/**
 * Decodes a lossless JPEG. `bytesPerSample` (1 or 2) follows DICOM Bits Allocated. Synchronous:
 * the decoder is plain JavaScript. Parse errors are thrown as-is; the caller wraps them.
 * The library silently zero-fills or decodes garbage when the stream ends early, so completion
 * (every row written, no read past the end) is checked here and reported as `truncated`.
 */
export function decodeJpegLossless(jpeg: Uint8Array, bytesPerSample: 1 | 2): CodecOutput {
  const { Decoder } = loadModule();
  const decoder = new Decoder();
  // The decoder reads through a DataView over (buffer, offset, length), so no copy is needed.
  const samples = decoder.decode(jpeg.buffer as ArrayBuffer, jpeg.byteOffset, jpeg.byteLength, bytesPerSample);
  const stream = decoder.stream;
  if (decoder.yLoc < decoder.yDim || !stream || stream.index > stream.buffer.length) {
    throw new ImageDecodeError('truncated', `JPEG lossless stream ends before the image is complete (row ${decoder.yLoc} of ${decoder.yDim})`);
  }
  const bytes = new Uint8Array(samples.buffer, samples.byteOffset, samples.byteLength);
  return {
    frameInfo: {
      width: decoder.xDim,
      height: decoder.yDim,
      bitsPerSample: decoder.precision ?? bytesPerSample * 8,
      componentCount: decoder.numComp,
      isSigned: false,
    },
    bytes,
  };
}
