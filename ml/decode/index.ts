/**
 * Image decoding layer for chest X-ray triage: PNG, JPEG and DICOM (Part 10 or raw implicit VR
 * stream; native, deflated, RLE, JPEG baseline/extended 8-bit, JPEG lossless, JPEG-LS, JPEG 2000)
 * to a grey [0,1] Float32Array. See README.md in this folder for behaviour and limits.
 */
export { decodeImage, decodeDicomStored } from './decode';
export { ImageDecodeError, type ImageDecodeErrorCode } from './errors';
export { DEFAULT_DECODE_LIMITS, type DecodeLimits } from './limits';
export { sniffFormat, type ImageFormat } from './sniff';
export { toGray01, type Raster } from './gray';
export type { DecodedImage, DicomImageInfo } from './types';
export type { DicomHeader } from './dicom/parse';
