/** Plain JPEG files (8-bit DCT, baseline or progressive) via libjpeg-turbo, to grey [0,1]. */
import { decodeJpegBaseline } from './codecs/libjpeg-turbo';
import { readJpegFrameHeader } from './codecs/stream-headers';
import { ImageDecodeError } from './errors';
import { toGray01 } from './gray';
import { type DecodeLimits, checkDimensions } from './limits';
import type { GreyImage } from './png';

export async function decodeJpeg(buf: Uint8Array, limits: DecodeLimits): Promise<GreyImage> {
  const sof = readJpegFrameHeader(buf);
  if (!sof) throw new ImageDecodeError('corrupt', 'JPEG has no frame header before its first scan');
  checkDimensions(sof.width, sof.height, limits, 'JPEG');
  if (sof.kind !== 'jpeg-dct' || sof.precision !== 8) {
    throw new ImageDecodeError('unsupported_format', `only 8-bit DCT JPEG is supported (got ${sof.kind}, ${sof.precision}-bit)`);
  }
  if (sof.components !== 1 && sof.components !== 3) {
    throw new ImageDecodeError('unsupported_format', `JPEG with ${sof.components} components (CMYK?) is not supported`);
  }
  const { frameInfo, bytes } = await decodeJpegBaseline(buf);
  const expected = sof.width * sof.height * sof.components;
  if (frameInfo.width !== sof.width || frameInfo.height !== sof.height || frameInfo.componentCount !== sof.components || bytes.length !== expected) {
    throw new ImageDecodeError(
      'corrupt',
      `libjpeg-turbo returned ${bytes.length} bytes for ${frameInfo.width}×${frameInfo.height}×${frameInfo.componentCount}`,
    );
  }
  if (!bytes.some((b) => b !== 0)) throw new ImageDecodeError('corrupt', 'libjpeg-turbo returned an all-zero image');
  const pixels = toGray01({
    width: sof.width,
    height: sof.height,
    stride: sof.components,
    colour: sof.components === 1 ? 'grey' : 'rgb',
    maxValue: 255,
    data: bytes,
  });
  return { width: sof.width, height: sof.height, pixels };
}
