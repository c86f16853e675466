/**
 * Turns the first frame of the Pixel Data into little-endian samples: native frames pass through,
 * RLE goes through our decoder, JPEG-family / JPEG 2000 through the codec adapters. The frame
 * header inside a codestream is checked against the DICOM header and the limits BEFORE the codec
 * allocates, and codec output is checked for size, geometry and an all-zero buffer afterwards.
 */
import { decodeJpegLs } from '../codecs/charls';
import type { CodecOutput } from '../codecs/emscripten';
import { decodeJpeg12 } from '../codecs/ijg-12bit';
import { decodeJpegLossless } from '../codecs/jpeg-lossless';
import { decodeJpegBaseline } from '../codecs/libjpeg-turbo';
import { decodeJpeg2000 } from '../codecs/openjpeg';
import { type StreamFrameHeader, findCodestreamStart, readJpeg2000FrameHeader, readJpegFrameHeader } from '../codecs/stream-headers';
import { ImageDecodeError, describeThrown } from '../errors';
import { type DecodeLimits, checkDimensions } from '../limits';
import type { DicomHeader } from './parse';
import { decodeRleFrame } from './rle';
import type { PixelEncoding } from './transfer-syntax';

/** How the samples of a decoded frame are laid out. */
export type SampleLayout =
  | 'grey'
  /** 3 samples per pixel, interleaved, RGB. */
  | 'rgb'
  /** 3 samples per pixel, colour-by-plane, RGB. */
  | 'rgb-planar'
  /** 3 samples per pixel, interleaved, first sample is luma Y (YBR_FULL). */
  | 'ybr'
  | 'ybr-planar'
  /** Native YBR_FULL_422: Y0 Y1 Cb Cr per pixel pair. */
  | 'ybr422';

export interface FrameSamples {
  bytes: Uint8Array;
  bytesPerSample: 1 | 2;
  layout: SampleLayout;
}

export async function decodeFirstFrame(frame: Uint8Array, header: DicomHeader, encoding: PixelEncoding, limits: DecodeLimits): Promise<FrameSamples> {
  const pixelCount = header.rows * header.columns;
  const bytesPerSample = header.bitsAllocated === 8 ? 1 : 2;
  switch (encoding) {
    case 'native':
      return { bytes: frame, bytesPerSample, layout: nativeLayout(header) };
    case 'rle': {
      const bytes = decodeRleFrame(frame, pixelCount, header.samplesPerPixel, bytesPerSample);
      // RLE output is interleaved whatever Planar Configuration says; YBR stays YBR.
      return { bytes, bytesPerSample, layout: colourLayout(header, false, header.photometric.startsWith('YBR')) };
    }
    case 'jpeg-dct': {
      const sof = checkStreamHeader(readJpegFrameHeader(frame), header, limits, 'JPEG');
      if (sof.kind !== 'jpeg-dct') throw new ImageDecodeError('corrupt', `transfer syntax says lossy JPEG but the stream is ${sof.kind}`);
      if (sof.precision > 12) throw new ImageDecodeError('unsupported_transfer_syntax', `${sof.precision}-bit DCT JPEG is not a DICOM transfer syntax`);
      if (sof.precision > 8) {
        // JPEG Extended process 4 (12-bit), common on CR systems: IJG 12-bit through dcmjs-codecs.
        if (bytesPerSample !== 2) throw new ImageDecodeError('corrupt', `${sof.precision}-bit JPEG in a DICOM with Bits Allocated ${header.bitsAllocated}`);
        return validated(
          await decodeJpeg12(frame, {
            width: sof.width,
            height: sof.height,
            precision: sof.precision,
            components: sof.components,
            photometric: header.photometric,
          }),
          header,
          false,
          'IJG 12-bit (dcmjs-codecs)',
        );
      }
      // libjpeg-turbo converts YCbCr to RGB, so colour output is RGB whatever the photometric says.
      return validated(await decodeJpegBaseline(frame), header, false, 'libjpeg-turbo');
    }
    case 'jpeg-lossless': {
      const sof = checkStreamHeader(readJpegFrameHeader(frame), header, limits, 'JPEG lossless');
      if (sof.kind !== 'jpeg-lossless') throw new ImageDecodeError('corrupt', `transfer syntax says lossless JPEG but the stream is ${sof.kind}`);
      if (sof.precision > 16 || (sof.components > 1 && sof.precision > 8)) {
        throw new ImageDecodeError('unsupported_transfer_syntax', `${sof.precision}-bit ${sof.components}-component lossless JPEG is not supported`);
      }
      let output: CodecOutput;
      try {
        output = decodeJpegLossless(frame, sof.precision <= 8 && bytesPerSample === 1 ? 1 : 2);
      } catch (err) {
        if (err instanceof ImageDecodeError) throw err;
        throw new ImageDecodeError('corrupt', `JPEG lossless stream could not be decoded: ${describeThrown(err)}`, { cause: err });
      }
      return validated(output, header, header.photometric.startsWith('YBR'), 'jpeg-lossless-decoder-js');
    }
    case 'jpeg-ls': {
      const sof = checkStreamHeader(readJpegFrameHeader(frame), header, limits, 'JPEG-LS');
      if (sof.kind !== 'jpeg-ls') throw new ImageDecodeError('corrupt', `transfer syntax says JPEG-LS but the stream is ${sof.kind}`);
      if (sof.precision > 16) throw new ImageDecodeError('unsupported_transfer_syntax', `${sof.precision}-bit JPEG-LS is not supported`);
      return validated(await decodeJpegLs(frame), header, header.photometric.startsWith('YBR'), 'CharLS');
    }
    case 'jpeg2000': {
      const siz = checkStreamHeader(readJpeg2000FrameHeader(frame), header, limits, 'JPEG 2000');
      if (siz.precision > 16) throw new ImageDecodeError('unsupported_transfer_syntax', `${siz.precision}-bit JPEG 2000 is not supported`);
      const start = findCodestreamStart(frame);
      // OpenJPEG undoes the ICT/RCT colour transform, so colour output is RGB; YBR_FULL stays YBR.
      const ybr = header.photometric === 'YBR_FULL' || header.photometric === 'YBR_FULL_422';
      return validated(await decodeJpeg2000(start > 0 ? frame.subarray(start) : frame), header, ybr, 'OpenJPEG');
    }
  }
}

function nativeLayout(header: DicomHeader): SampleLayout {
  if (header.photometric === 'YBR_FULL_422') return 'ybr422';
  return colourLayout(header, header.planarConfiguration === 1, header.photometric.startsWith('YBR'));
}

function colourLayout(header: DicomHeader, planar: boolean, ybr: boolean): SampleLayout {
  if (header.samplesPerPixel === 1) return 'grey';
  if (ybr) return planar ? 'ybr-planar' : 'ybr';
  return planar ? 'rgb-planar' : 'rgb';
}

function checkStreamHeader(streamHeader: StreamFrameHeader | null, header: DicomHeader, limits: DecodeLimits, what: string): StreamFrameHeader {
  if (!streamHeader) throw new ImageDecodeError('corrupt', `${what} stream has no readable frame header`);
  checkDimensions(streamHeader.width, streamHeader.height, limits, `${what} codestream`);
  if (streamHeader.width !== header.columns || streamHeader.height !== header.rows) {
    throw new ImageDecodeError(
      'corrupt',
      `${what} codestream is ${streamHeader.width}×${streamHeader.height} but the DICOM header says ${header.columns}×${header.rows}`,
    );
  }
  if (streamHeader.components !== header.samplesPerPixel) {
    throw new ImageDecodeError('corrupt', `${what} codestream has ${streamHeader.components} components, DICOM header says ${header.samplesPerPixel}`);
  }
  return streamHeader;
}

function validated(output: CodecOutput, header: DicomHeader, ybr: boolean, codec: string): FrameSamples {
  const { frameInfo, bytes } = output;
  if (frameInfo.width !== header.columns || frameInfo.height !== header.rows || frameInfo.componentCount !== header.samplesPerPixel) {
    throw new ImageDecodeError(
      'corrupt',
      `${codec} returned ${frameInfo.width}×${frameInfo.height}×${frameInfo.componentCount}, expected ${header.columns}×${header.rows}×${header.samplesPerPixel}`,
    );
  }
  const bytesPerSample: 1 | 2 = frameInfo.bitsPerSample <= 8 ? 1 : 2;
  const expected = header.rows * header.columns * header.samplesPerPixel * bytesPerSample;
  if (bytes.length !== expected) {
    throw new ImageDecodeError('corrupt', `${codec} returned ${bytes.length} bytes, expected ${expected}`);
  }
  if (isAllZero(bytes)) {
    throw new ImageDecodeError('corrupt', `${codec} returned an all-zero image`);
  }
  return { bytes, bytesPerSample, layout: colourLayout(header, output.planar === true, ybr) };
}

function isAllZero(bytes: Uint8Array): boolean {
  // Word-wise scan when aligned; byte-wise tail.
  const words = bytes.byteOffset % 4 === 0 ? new Uint32Array(bytes.buffer, bytes.byteOffset, bytes.length >>> 2) : undefined;
  let i = 0;
  if (words) {
    for (const w of words) if (w !== 0) return false;
    i = words.length * 4;
  }
  for (; i < bytes.length; i++) if (bytes[i] !== 0) return false;
  return true;
}
