/** Entry point: sniff the content, enforce input limits, dispatch to the PNG / JPEG / DICOM decoder. */
import { decodeDicom, decodeDicomStoredValues } from './dicom/decode-dicom';
import type { DicomHeader } from './dicom/parse';
import { ImageDecodeError, describeThrown } from './errors';
import { decodeJpeg } from './jpeg';
import { type DecodeLimits, resolveLimits } from './limits';
import { decodePng } from './png';
import { sniffFormat } from './sniff';
import type { DecodedImage } from './types';

/**
 * Decodes a PNG, JPEG or DICOM image (format from magic bytes, never from a file name) to grey
 * [0,1]. Rejects bad input only with ImageDecodeError. DICOM multi-frame images yield frame 1.
 */
export async function decodeImage(buf: Uint8Array, limits?: Partial<DecodeLimits>): Promise<DecodedImage> {
  const resolved = resolveLimits(limits);
  return guard(async () => {
    checkInput(buf, resolved);
    const format = sniffFormat(buf);
    switch (format) {
      case 'png':
        return { ...decodePng(buf, resolved), format };
      case 'jpeg':
        return { ...(await decodeJpeg(buf, resolved)), format };
      case 'dicom':
        return decodeDicom(buf, resolved);
      case null:
        throw new ImageDecodeError('unsupported_format', 'not a PNG, JPEG or DICOM image');
    }
  });
}

/**
 * Stored values of the first frame of a greyscale DICOM image (Bits Stored masked, sign-extended,
 * no LUTs applied) with its parsed header: for QA against reference decoders.
 */
export async function decodeDicomStored(buf: Uint8Array, limits?: Partial<DecodeLimits>): Promise<{ header: DicomHeader; stored: Int32Array }> {
  const resolved = resolveLimits(limits);
  return guard(async () => {
    checkInput(buf, resolved);
    if (sniffFormat(buf) !== 'dicom') throw new ImageDecodeError('unsupported_format', 'not a DICOM file');
    return decodeDicomStoredValues(buf, resolved);
  });
}

function checkInput(buf: Uint8Array, limits: DecodeLimits): void {
  if (!(buf instanceof Uint8Array)) throw new ImageDecodeError('unsupported_format', 'input must be a Uint8Array or Buffer');
  if (buf.length === 0) throw new ImageDecodeError('empty', 'input is empty');
  if (buf.length > limits.maxBytes) {
    throw new ImageDecodeError('too_large', `input is ${buf.length} bytes, more than maxBytes ${limits.maxBytes}`);
  }
}

/** Anything other than ImageDecodeError escaping a decoder is a parser/codec failure on bad input. */
async function guard<T>(run: () => Promise<T>): Promise<T> {
  try {
    return await run();
  } catch (err) {
    if (err instanceof ImageDecodeError) throw err;
    throw new ImageDecodeError('corrupt', `image could not be decoded: ${describeThrown(err)}`, { cause: err });
  }
}
