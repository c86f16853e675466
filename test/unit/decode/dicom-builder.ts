/** Builds small synthetic DICOM files (explicit or implicit VR little endian) for unit tests. */
import { deflateRawSync } from 'node:zlib';

export interface DicomElement {
  group: number;
  element: number;
  vr: string;
  value: Uint8Array;
}

const LONG_VRS = new Set(['OB', 'OD', 'OF', 'OL', 'OW', 'SQ', 'UC', 'UN', 'UR', 'UT']);

export function us(group: number, element: number, ...values: number[]): DicomElement {
  const value = new Uint8Array(values.length * 2);
  const view = new DataView(value.buffer);
  values.forEach((v, i) => view.setUint16(i * 2, v, true));
  return { group, element, vr: 'US', value };
}

export function str(group: number, element: number, vr: string, text: string): DicomElement {
  const padded = text.length % 2 === 0 ? text : text + (vr === 'UI' ? '\0' : ' ');
  return { group, element, vr, value: new Uint8Array(Buffer.from(padded, 'latin1')) };
}

export function ow(group: number, element: number, bytes: Uint8Array, vr = 'OW'): DicomElement {
  const value = bytes.length % 2 === 0 ? bytes : concat([bytes, new Uint8Array(1)]);
  return { group, element, vr, value };
}

export interface ImageSpec {
  rows: number;
  columns: number;
  bitsAllocated: 8 | 16;
  bitsStored?: number;
  highBit?: number;
  pixelRepresentation?: 0 | 1;
  photometric?: string;
  samplesPerPixel?: number;
  planarConfiguration?: 0 | 1;
  numberOfFrames?: number;
  window?: [number, number];
  rescale?: [number, number];
  presentationLutShape?: string;
  extra?: DicomElement[];
}

/** The image pixel module (and friends) as elements. */
export function imageElements(spec: ImageSpec): DicomElement[] {
  const spp = spec.samplesPerPixel ?? 1;
  const bitsStored = spec.bitsStored ?? spec.bitsAllocated;
  const els: DicomElement[] = [
    str(0x0008, 0x0016, 'UI', '1.2.840.10008.5.1.4.1.1.1'),
    str(0x0008, 0x0018, 'UI', '1.2.3.4.5'),
    str(0x0008, 0x0060, 'CS', 'CR'),
    str(0x0010, 0x0020, 'LO', 'TEST-PATIENT'),
    str(0x0018, 0x0015, 'CS', 'CHEST'),
    us(0x0028, 0x0002, spp),
    str(0x0028, 0x0004, 'CS', spec.photometric ?? (spp === 1 ? 'MONOCHROME2' : 'RGB')),
    us(0x0028, 0x0010, spec.rows),
    us(0x0028, 0x0011, spec.columns),
    us(0x0028, 0x0100, spec.bitsAllocated),
    us(0x0028, 0x0101, bitsStored),
    us(0x0028, 0x0102, spec.highBit ?? bitsStored - 1),
    us(0x0028, 0x0103, spec.pixelRepresentation ?? 0),
  ];
  if (spp > 1) els.push(us(0x0028, 0x0006, spec.planarConfiguration ?? 0));
  if (spec.numberOfFrames !== undefined) els.push(str(0x0028, 0x0008, 'IS', String(spec.numberOfFrames)));
  if (spec.window) els.push(str(0x0028, 0x1050, 'DS', String(spec.window[0])), str(0x0028, 0x1051, 'DS', String(spec.window[1])));
  if (spec.rescale) els.push(str(0x0028, 0x1052, 'DS', String(spec.rescale[1])), str(0x0028, 0x1053, 'DS', String(spec.rescale[0])));
  if (spec.presentationLutShape) els.push(str(0x2050, 0x0020, 'CS', spec.presentationLutShape));
  return [...els, ...(spec.extra ?? [])];
}

/** Native pixel data element (OW for 16-bit, OB for 8-bit). */
export function nativePixelData(bytes: Uint8Array, bitsAllocated: 8 | 16): DicomElement {
  return ow(0x7fe0, 0x0010, bytes, bitsAllocated === 16 ? 'OW' : 'OB');
}

/** Encapsulated pixel data: empty (or given) basic offset table, one item per fragment, delimiter. */
export function encapsulatedPixelData(fragments: Uint8Array[], basicOffsets: number[] = []): Uint8Array {
  const parts: Uint8Array[] = [tagBytes(0x7fe0, 0x0010), Buffer.from('OB'), new Uint8Array(2), u32(0xffffffff)];
  const bot = new Uint8Array(basicOffsets.length * 4);
  basicOffsets.forEach((o, i) => new DataView(bot.buffer).setUint32(i * 4, o, true));
  parts.push(tagBytes(0xfffe, 0xe000), u32(bot.length), bot);
  for (const f of fragments) {
    const padded = f.length % 2 === 0 ? f : concat([f, new Uint8Array(1)]);
    parts.push(tagBytes(0xfffe, 0xe000), u32(padded.length), padded);
  }
  parts.push(tagBytes(0xfffe, 0xe0dd), u32(0));
  return concat(parts);
}

export function encodeDataSet(elements: DicomElement[], explicit: boolean): Uint8Array {
  const sorted = [...elements].sort((a, b) => a.group - b.group || a.element - b.element);
  return concat(sorted.map((el) => encodeElement(el, explicit)));
}

export function encodeElement(el: DicomElement, explicit: boolean): Uint8Array {
  if (!explicit) return concat([tagBytes(el.group, el.element), u32(el.value.length), el.value]);
  if (LONG_VRS.has(el.vr)) return concat([tagBytes(el.group, el.element), Buffer.from(el.vr), new Uint8Array(2), u32(el.value.length), el.value]);
  return concat([tagBytes(el.group, el.element), Buffer.from(el.vr), u16(el.value.length), el.value]);
}

export interface Part10Options {
  transferSyntax: string;
  elements: DicomElement[];
  /** Raw bytes appended after the encoded elements (e.g. encapsulated pixel data). */
  trailer?: Uint8Array;
  deflate?: boolean;
}

/** Preamble + DICM + file meta (explicit VR LE) + data set (explicit VR LE, optionally deflated). */
export function buildPart10(opts: Part10Options): Uint8Array {
  const metaElements = encodeDataSet(
    [
      ow(0x0002, 0x0001, new Uint8Array([0, 1]), 'OB'),
      str(0x0002, 0x0002, 'UI', '1.2.840.10008.5.1.4.1.1.1'),
      str(0x0002, 0x0003, 'UI', '1.2.3.4.5'),
      str(0x0002, 0x0010, 'UI', opts.transferSyntax),
    ],
    true,
  );
  const groupLength = encodeElement({ group: 0x0002, element: 0x0000, vr: 'UL', value: u32(metaElements.length) }, true);
  let dataSet = concat([encodeDataSet(opts.elements, opts.transferSyntax !== '1.2.840.10008.1.2'), opts.trailer ?? new Uint8Array(0)]);
  if (opts.deflate) dataSet = new Uint8Array(deflateRawSync(dataSet));
  return concat([new Uint8Array(128), Buffer.from('DICM'), groupLength, metaElements, dataSet]);
}

/** A raw data set with no preamble and no file meta (ACR-NEMA style). */
export function buildRawStream(elements: DicomElement[], explicit = false): Uint8Array {
  return encodeDataSet(elements, explicit);
}

export function u16le(values: ArrayLike<number>): Uint8Array {
  const out = new Uint8Array(values.length * 2);
  const view = new DataView(out.buffer);
  for (let i = 0; i < values.length; i++) view.setUint16(i * 2, (values[i] as number) & 0xffff, true);
  return out;
}

/** PackBits encoder (runs of ≥ 3 equal bytes as replicate runs, else literals) for RLE tests. */
export function packBits(src: Uint8Array): Uint8Array {
  const out: number[] = [];
  let i = 0;
  while (i < src.length) {
    let run = 1;
    while (i + run < src.length && run < 128 && src[i + run] === src[i]) run++;
    if (run >= 3) {
      out.push(257 - run, src[i] as number);
      i += run;
      continue;
    }
    const start = i;
    while (i < src.length && i - start < 128) {
      if (i + 2 < src.length && src[i] === src[i + 1] && src[i] === src[i + 2]) break;
      i++;
    }
    out.push(i - start - 1, ...src.subarray(start, i));
  }
  return new Uint8Array(out);
}

/** DICOM RLE frame from byte planes (already in segment order: sample by sample, MSB plane first). */
export function rleFrame(planes: Uint8Array[]): Uint8Array {
  const segments = planes.map(packBits).map((s) => (s.length % 2 === 0 ? s : concat([s, new Uint8Array([0x80])])));
  const header = new Uint8Array(64);
  const view = new DataView(header.buffer);
  view.setUint32(0, segments.length, true);
  let offset = 64;
  segments.forEach((s, i) => {
    view.setUint32(4 + 4 * i, offset, true);
    offset += s.length;
  });
  return concat([header, ...segments]);
}

export function concat(parts: Uint8Array[]): Uint8Array {
  const total = parts.reduce((n, p) => n + p.length, 0);
  const out = new Uint8Array(total);
  let o = 0;
  for (const p of parts) {
    out.set(p, o);
    o += p.length;
  }
  return out;
}

function tagBytes(group: number, element: number): Uint8Array {
  return concat([u16(group), u16(element)]);
}

function u16(v: number): Uint8Array {
  const b = new Uint8Array(2);
  new DataView(b.buffer).setUint16(0, v, true);
  return b;
}

function u32(v: number): Uint8Array {
  const b = new Uint8Array(4);
  new DataView(b.buffer).setUint32(0, v, true);
  return b;
}
