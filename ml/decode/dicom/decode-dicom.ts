/** DICOM → DecodedImage: parse, validate, locate and decode the first frame, render to [0,1]. */
import { ImageDecodeError } from '../errors';
import { type DecodeLimits, checkDimensions } from '../limits';
import type { DecodedImage, DicomImageInfo } from '../types';
import { type GreyscaleRendering, parseVoiFunction, renderGreyscale, shouldInvert } from '../voi';
import { type FrameSamples, decodeFirstFrame } from './decode-frame';
import { encapsulatedFirstFrame, nativeFirstFrame } from './frame';
import { type DicomHeader, parseDicomDataSet, requireTransferSyntax } from './parse';
import { colourLuminance01, greyStoredValues } from './stored-values';
import type { TransferSyntaxInfo } from './transfer-syntax';

const GREY_PHOTOMETRICS = new Set(['MONOCHROME1', 'MONOCHROME2']);
const COLOUR_PHOTOMETRICS = new Set(['RGB', 'YBR_FULL', 'YBR_FULL_422', 'YBR_ICT', 'YBR_RCT']);

interface DecodedDicomFrame {
  header: DicomHeader;
  transferSyntax: TransferSyntaxInfo;
  samples: FrameSamples;
}

async function decodeDicomFrame(buf: Uint8Array, limits: DecodeLimits): Promise<DecodedDicomFrame> {
  const { header, pixelData, bytes } = parseDicomDataSet(buf, limits);
  const transferSyntax = requireTransferSyntax(header.transferSyntaxUid);
  if (!pixelData) throw new ImageDecodeError('no_pixel_data', 'the data set has no Pixel Data (7FE0,0010) element');
  validatePixelModule(header);
  // Size checks come before anything proportional to rows × columns is allocated.
  checkDimensions(header.columns, header.rows, limits, 'DICOM image');

  let frame: Uint8Array;
  if (transferSyntax.encoding === 'native') {
    if (pixelData.encapsulatedPixelData) throw new ImageDecodeError('corrupt', 'native transfer syntax with encapsulated pixel data');
    frame = nativeFirstFrame(bytes, header, pixelData);
  } else {
    if (!pixelData.encapsulatedPixelData) throw new ImageDecodeError('corrupt', `${transferSyntax.name} pixel data is not encapsulated`);
    frame = encapsulatedFirstFrame(bytes, header, pixelData, transferSyntax.encoding);
  }
  const samples = await decodeFirstFrame(frame, header, transferSyntax.encoding, limits);
  return { header, transferSyntax, samples };
}

function validatePixelModule(header: DicomHeader): void {
  const { bitsAllocated, bitsStored, samplesPerPixel, photometric } = header;
  if (bitsAllocated !== 8 && bitsAllocated !== 16) {
    throw new ImageDecodeError('unsupported_format', `Bits Allocated ${bitsAllocated} is not supported (8 or 16)`);
  }
  if (bitsStored < 1 || bitsStored > bitsAllocated) {
    throw new ImageDecodeError('corrupt', `Bits Stored ${bitsStored} is inconsistent with Bits Allocated ${bitsAllocated}`);
  }
  const grey = GREY_PHOTOMETRICS.has(photometric);
  const colour = COLOUR_PHOTOMETRICS.has(photometric);
  if (!grey && !colour) throw new ImageDecodeError('unsupported_format', `Photometric Interpretation ${photometric} is not supported`);
  if ((grey && samplesPerPixel !== 1) || (colour && samplesPerPixel !== 3)) {
    throw new ImageDecodeError('corrupt', `${photometric} with Samples per Pixel ${samplesPerPixel}`);
  }
}

/**
 * Stored values (after Bits Stored masking and sign extension, before any LUT) of the first frame
 * of a greyscale DICOM image. Exposed for QA against reference decoders.
 */
export async function decodeDicomStoredValues(buf: Uint8Array, limits: DecodeLimits): Promise<{ header: DicomHeader; stored: Int32Array }> {
  const { header, transferSyntax, samples } = await decodeDicomFrame(buf, limits);
  if (samples.layout !== 'grey') throw new ImageDecodeError('unsupported_format', 'stored values are only exposed for greyscale images');
  return { header, stored: greyStoredValues(samples, header, transferSyntax.encoding === 'native') };
}

export async function decodeDicom(buf: Uint8Array, limits: DecodeLimits): Promise<DecodedImage> {
  const { header, transferSyntax, samples } = await decodeDicomFrame(buf, limits);
  let pixels: Float32Array;
  if (samples.layout === 'grey') {
    const stored = greyStoredValues(samples, header, transferSyntax.encoding === 'native');
    pixels = renderGreyscale(stored, greyscaleRendering(header));
  } else {
    pixels = colourLuminance01(samples, header);
  }
  return { width: header.columns, height: header.rows, pixels, format: 'dicom', dicom: imageInfo(header) };
}

export function greyscaleRendering(header: DicomHeader): GreyscaleRendering {
  const rendering: GreyscaleRendering = {
    rescaleSlope: header.rescaleSlope,
    rescaleIntercept: header.rescaleIntercept,
    invert: shouldInvert(header.photometric, header.presentationLutShape),
  };
  if (header.windowCenter !== undefined && header.windowWidth !== undefined) {
    rendering.window = { center: header.windowCenter, width: header.windowWidth, fn: parseVoiFunction(header.voiLutFunction) };
  }
  return rendering;
}

function imageInfo(header: DicomHeader): DicomImageInfo {
  const info: DicomImageInfo = {
    transferSyntaxUid: header.transferSyntaxUid,
    photometric: header.photometric,
    bitsAllocated: header.bitsAllocated,
    bitsStored: header.bitsStored,
    rescaleSlope: header.rescaleSlope,
    rescaleIntercept: header.rescaleIntercept,
  };
  const optional = ['windowCenter', 'windowWidth'] as const;
  for (const key of optional) if (header[key] !== undefined) info[key] = header[key];
  const strings = ['sopInstanceUid', 'studyInstanceUid', 'seriesInstanceUid', 'modality', 'bodyPart', 'viewPosition', 'patientId'] as const;
  for (const key of strings) if (header[key] !== undefined) info[key] = header[key];
  return info;
}
