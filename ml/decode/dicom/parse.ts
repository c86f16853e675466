/**
 * DICOM data set parsing on top of dicom-parser: Part 10 files (preamble + DICM + file meta) and
 * raw little-endian data sets without preamble/meta (ACR-NEMA style, transfer syntax assumed from
 * the first element's encoding: implicit VR unless a VR is present). Produces a typed header and
 * the location of the Pixel Data, and maps every parser failure to ImageDecodeError.
 */
import { inflateRawSync } from 'node:zlib';
import { type DataSet, type Element, parseDicom, readPart10Header } from 'dicom-parser';
import { ImageDecodeError, describeThrown } from '../errors';
import type { DecodeLimits } from '../limits';
import { hasPart10Prefix, looksLikeRawDicomStream, rawElementHeader } from '../sniff';
import { EXPLICIT_VR_BIG_ENDIAN, EXPLICIT_VR_LITTLE_ENDIAN, IMPLICIT_VR_LITTLE_ENDIAN, type TransferSyntaxInfo, lookupTransferSyntax } from './transfer-syntax';

export interface DicomHeader {
  transferSyntaxUid: string;
  /** False for raw data sets without file meta (transfer syntax inferred). */
  hasFileMeta: boolean;
  rows: number;
  columns: number;
  samplesPerPixel: number;
  bitsAllocated: number;
  bitsStored: number;
  highBit: number;
  pixelRepresentation: 0 | 1;
  photometric: string;
  planarConfiguration: 0 | 1;
  numberOfFrames: number;
  rescaleSlope: number;
  rescaleIntercept: number;
  windowCenter?: number;
  windowWidth?: number;
  voiLutFunction?: string;
  presentationLutShape?: string;
  sopInstanceUid?: string;
  studyInstanceUid?: string;
  seriesInstanceUid?: string;
  modality?: string;
  bodyPart?: string;
  /** View Position (0018,5101): PA, AP, LL, ... */
  viewPosition?: string;
  patientId?: string;
}

export interface ParsedDicom {
  header: DicomHeader;
  dataSet: DataSet;
  /** The bytes element offsets refer to: the input, or meta + inflated data set for deflate. */
  bytes: Uint8Array;
  /** The (7FE0,0010) Pixel Data element, if present. */
  pixelData: Element | undefined;
}

const TAG = {
  transferSyntaxUid: 'x00020010',
  samplesPerPixel: 'x00280002',
  photometric: 'x00280004',
  planarConfiguration: 'x00280006',
  numberOfFrames: 'x00280008',
  rows: 'x00280010',
  columns: 'x00280011',
  bitsAllocated: 'x00280100',
  bitsStored: 'x00280101',
  highBit: 'x00280102',
  pixelRepresentation: 'x00280103',
  windowCenter: 'x00281050',
  windowWidth: 'x00281051',
  rescaleIntercept: 'x00281052',
  rescaleSlope: 'x00281053',
  voiLutFunction: 'x00281056',
  presentationLutShape: 'x20500020',
  sopInstanceUid: 'x00080018',
  studyInstanceUid: 'x0020000d',
  seriesInstanceUid: 'x0020000e',
  modality: 'x00080060',
  bodyPart: 'x00180015',
  viewPosition: 'x00185101',
  patientId: 'x00100020',
  pixelData: 'x7fe00010',
  floatPixelData: 'x7fe00008',
  doubleFloatPixelData: 'x7fe00009',
} as const;

/** Parses the data set. Throws ImageDecodeError (`corrupt`, `truncated`, `too_large`, `unsupported_format`). */
export function parseDicomDataSet(buf: Uint8Array, limits: DecodeLimits): ParsedDicom {
  const hasFileMeta = hasPart10Prefix(buf);
  let rawTransferSyntax: string | undefined;
  if (hasFileMeta) {
    // Reject unsupported transfer syntaxes from the file meta alone, before parsing a data set
    // whose encoding (e.g. big endian) we would misread.
    requireTransferSyntax(readMetaTransferSyntax(buf));
  } else {
    if (!looksLikeRawDicomStream(buf)) throw new ImageDecodeError('unsupported_format', 'not a DICOM file');
    const first = rawElementHeader(buf, new DataView(buf.buffer, buf.byteOffset, buf.byteLength), 0);
    rawTransferSyntax = first?.explicit ? EXPLICIT_VR_LITTLE_ENDIAN : IMPLICIT_VR_LITTLE_ENDIAN;
  }

  let dataSet: DataSet;
  try {
    dataSet = parseDicom(buf, {
      ...(rawTransferSyntax ? { TransferSyntaxUID: rawTransferSyntax } : {}),
      inflater: (byteArray: Uint8Array, position: number) => inflateDataSet(byteArray, position, limits),
    });
  } catch (err) {
    throw mapParserError(err);
  }

  const header = readHeader(dataSet, rawTransferSyntax);
  const pixelData = dataSet.elements[TAG.pixelData];
  if (!pixelData && (dataSet.elements[TAG.floatPixelData] || dataSet.elements[TAG.doubleFloatPixelData])) {
    throw new ImageDecodeError('unsupported_format', 'float / double float pixel data is not supported');
  }
  if (pixelData?.encapsulatedPixelData && dataSet.warnings.some((w) => w.includes('missing sequence delimiter'))) {
    throw new ImageDecodeError('truncated', 'encapsulated pixel data ends without its sequence delimiter');
  }
  return { header, dataSet, pixelData, bytes: dataSet.byteArray };
}

function readMetaTransferSyntax(buf: Uint8Array): string {
  let uid: string | undefined;
  try {
    uid = trimUid(readPart10Header(buf).string(TAG.transferSyntaxUid));
  } catch (err) {
    throw mapParserError(err);
  }
  if (!uid) throw new ImageDecodeError('corrupt', 'file meta has no Transfer Syntax UID');
  return uid;
}

/** The supported transfer syntax for a UID; throws `unsupported_transfer_syntax` otherwise. */
export function requireTransferSyntax(uid: string): TransferSyntaxInfo {
  const info = lookupTransferSyntax(uid);
  if (info) return info;
  const why = uid === EXPLICIT_VR_BIG_ENDIAN ? ' (Explicit VR Big Endian, retired)' : '';
  throw new ImageDecodeError('unsupported_transfer_syntax', `transfer syntax ${uid}${why} is not supported`);
}

/** dicom-parser's deflate hook: returns meta bytes + inflated data set, bounded by maxBytes. */
function inflateDataSet(byteArray: Uint8Array, position: number, limits: DecodeLimits): Uint8Array {
  let inflated: Buffer;
  try {
    inflated = inflateRawSync(byteArray.subarray(position), { maxOutputLength: limits.maxBytes });
  } catch (err) {
    if (err instanceof RangeError || (err as { code?: unknown }).code === 'ERR_BUFFER_TOO_LARGE') {
      throw new ImageDecodeError('too_large', `deflated data set inflates beyond maxBytes ${limits.maxBytes}`, { cause: err });
    }
    throw new ImageDecodeError('corrupt', `deflated data set could not be inflated: ${describeThrown(err)}`, { cause: err });
  }
  const full = new Uint8Array(position + inflated.length);
  full.set(byteArray.subarray(0, position), 0);
  full.set(inflated, position);
  return full;
}

function mapParserError(err: unknown): ImageDecodeError {
  if (err instanceof ImageDecodeError) return err;
  const message = describeThrown(err);
  if (/overrun|overread|past end|beyond|eof/i.test(message)) {
    return new ImageDecodeError('truncated', `DICOM data ends early: ${message}`, { cause: err });
  }
  return new ImageDecodeError('corrupt', `DICOM data set could not be parsed: ${message}`, { cause: err });
}

function readHeader(ds: DataSet, rawTransferSyntax: string | undefined): DicomHeader {
  const transferSyntaxUid = rawTransferSyntax ?? trimUid(ds.string(TAG.transferSyntaxUid));
  if (!transferSyntaxUid) throw new ImageDecodeError('corrupt', 'file meta has no Transfer Syntax UID');
  const samplesPerPixel = ds.uint16(TAG.samplesPerPixel) ?? 1;
  const bitsAllocated = ds.uint16(TAG.bitsAllocated) ?? 0;
  const bitsStored = ds.uint16(TAG.bitsStored) ?? bitsAllocated;
  const header: DicomHeader = {
    transferSyntaxUid,
    hasFileMeta: rawTransferSyntax === undefined,
    rows: ds.uint16(TAG.rows) ?? 0,
    columns: ds.uint16(TAG.columns) ?? 0,
    samplesPerPixel,
    bitsAllocated,
    bitsStored,
    highBit: ds.uint16(TAG.highBit) ?? bitsStored - 1,
    pixelRepresentation: ds.uint16(TAG.pixelRepresentation) === 1 ? 1 : 0,
    photometric: (ds.string(TAG.photometric) ?? (samplesPerPixel === 1 ? 'MONOCHROME2' : 'RGB')).trim().toUpperCase(),
    planarConfiguration: ds.uint16(TAG.planarConfiguration) === 1 ? 1 : 0,
    numberOfFrames: positiveInt(ds.intString(TAG.numberOfFrames)) ?? 1,
    rescaleSlope: finite(ds.floatString(TAG.rescaleSlope)) ?? 1,
    rescaleIntercept: finite(ds.floatString(TAG.rescaleIntercept)) ?? 0,
  };
  // Rescale slope 0 would collapse the image; treat as absent (identity), as most viewers do.
  if (header.rescaleSlope === 0) header.rescaleSlope = 1;
  const windowCenter = finite(ds.floatString(TAG.windowCenter, 0));
  const windowWidth = finite(ds.floatString(TAG.windowWidth, 0));
  if (windowCenter !== undefined && windowWidth !== undefined && windowWidth > 0) {
    header.windowCenter = windowCenter;
    header.windowWidth = windowWidth;
  }
  assignString(header, 'voiLutFunction', ds.string(TAG.voiLutFunction)?.toUpperCase());
  assignString(header, 'presentationLutShape', ds.string(TAG.presentationLutShape)?.toUpperCase());
  assignString(header, 'sopInstanceUid', trimUid(ds.string(TAG.sopInstanceUid)));
  assignString(header, 'studyInstanceUid', trimUid(ds.string(TAG.studyInstanceUid)));
  assignString(header, 'seriesInstanceUid', trimUid(ds.string(TAG.seriesInstanceUid)));
  assignString(header, 'modality', ds.string(TAG.modality));
  assignString(header, 'bodyPart', ds.string(TAG.bodyPart));
  assignString(header, 'viewPosition', ds.string(TAG.viewPosition));
  assignString(header, 'patientId', ds.string(TAG.patientId));
  return header;
}

type OptionalStringKey =
  | 'voiLutFunction'
  | 'presentationLutShape'
  | 'sopInstanceUid'
  | 'studyInstanceUid'
  | 'seriesInstanceUid'
  | 'modality'
  | 'bodyPart'
  | 'viewPosition'
  | 'patientId';

function assignString(header: DicomHeader, key: OptionalStringKey, value: string | undefined): void {
  const trimmed = value?.trim();
  if (trimmed) header[key] = trimmed;
}

/** UIDs are padded with NUL to even length. */
function trimUid(value: string | undefined): string | undefined {
  const trimmed = value?.replace(/\0+$/, '').trim();
  return trimmed || undefined;
}

function finite(value: number | undefined): number | undefined {
  return value !== undefined && Number.isFinite(value) ? value : undefined;
}

function positiveInt(value: number | undefined): number | undefined {
  return value !== undefined && Number.isInteger(value) && value > 0 ? value : undefined;
}
