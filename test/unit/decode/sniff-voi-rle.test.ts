/** Small pure units: format sniffing, VOI / inversion rules, PackBits / RLE frame layout, stream headers. */
import { sniffFormat } from '../../../ml/decode';
import { readJpeg2000FrameHeader, readJpegFrameHeader } from '../../../ml/decode/codecs/stream-headers';
import { decodeRleFrame, unpackBits } from '../../../ml/decode/dicom/rle';
import { applyVoi, renderGreyscale, shouldInvert } from '../../../ml/decode/voi';
import { buildRawStream, imageElements, packBits, rleFrame } from './dicom-builder';
import { readFixture } from './reference';

describe('sniffFormat', () => {
  test('magic bytes', () => {
    expect(sniffFormat(Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a, 0, 0]))).toBe('png');
    expect(sniffFormat(Buffer.from([0xff, 0xd8, 0xff, 0xe0]))).toBe('jpeg');
    expect(sniffFormat(Buffer.concat([Buffer.alloc(128), Buffer.from('DICM'), Buffer.alloc(10)]))).toBe('dicom');
    expect(sniffFormat(readFixture('20_EDGE_CR-MONO1-10-chest_nometa.dcm'))).toBe('dicom');
    expect(sniffFormat(buildRawStream(imageElements({ rows: 1, columns: 1, bitsAllocated: 8 }), true))).toBe('dicom');
  });

  test('non-images and near misses', () => {
    expect(sniffFormat(new Uint8Array(0))).toBeNull();
    expect(sniffFormat(Buffer.from('GIF89a........'))).toBeNull();
    expect(sniffFormat(Buffer.from([0x89, 0x50, 0x4e, 0x47]))).toBeNull();
    expect(sniffFormat(Buffer.concat([Buffer.alloc(128), Buffer.from('DICX'), Buffer.alloc(10)]))).toBeNull();
    // Group 0008 then an implicit length running past the end of the buffer.
    expect(sniffFormat(Buffer.from([0x08, 0x00, 0x05, 0x00, 0xff, 0xff, 0x00, 0x00, 1, 2, 3, 4, 5, 6, 7, 8]))).toBeNull();
  });
});

describe('VOI and inversion', () => {
  test('linear VOI boundaries (PS3.3 C.11.2.1.2.1), c = 2048, w = 4096', () => {
    expect(applyVoi(0, 2048, 4096, 'LINEAR')).toBe(0);
    expect(applyVoi(4095, 2048, 4096, 'LINEAR')).toBe(1);
    expect(applyVoi(2047.5, 2048, 4096, 'LINEAR')).toBe(0.5);
    expect(applyVoi(3000, 2048, 4096, 'LINEAR')).toBeCloseTo((3000 - 2047.5) / 4095 + 0.5, 12);
  });

  test('width below 1 thresholds at c − 0.5', () => {
    expect(applyVoi(99, 100, 0.5, 'LINEAR')).toBe(0);
    expect(applyVoi(100, 100, 0.5, 'LINEAR')).toBe(1);
  });

  test('inversion rule', () => {
    expect(shouldInvert('MONOCHROME1', undefined)).toBe(true);
    expect(shouldInvert('MONOCHROME1', 'INVERSE')).toBe(true);
    expect(shouldInvert('MONOCHROME1', 'IDENTITY')).toBe(true);
    expect(shouldInvert('MONOCHROME2', undefined)).toBe(false);
    expect(shouldInvert('MONOCHROME2', 'IDENTITY')).toBe(false);
    expect(shouldInvert('MONOCHROME2', 'INVERSE')).toBe(true);
  });

  test('min–max of a flat image is 0 (1 when inverted), never NaN', () => {
    const flat = Int32Array.from([5, 5, 5]);
    expect(Array.from(renderGreyscale(flat, { rescaleSlope: 1, rescaleIntercept: 0, invert: false }))).toEqual([0, 0, 0]);
    expect(Array.from(renderGreyscale(flat, { rescaleSlope: 1, rescaleIntercept: 0, invert: true }))).toEqual([1, 1, 1]);
  });
});

describe('RLE', () => {
  test('PackBits: literal, replicate and no-op runs', () => {
    const out = new Uint8Array(8);
    const src = Uint8Array.from([0x02, 1, 2, 3, 0xfe, 9, 0x80, 0x01, 4, 5]);
    expect(unpackBits(src, 0, src.length, out)).toBe(8);
    expect(Array.from(out)).toEqual([1, 2, 3, 9, 9, 9, 4, 5]);
  });

  test('PackBits stops at the output size (padded segments) and rejects overruns', () => {
    const out = new Uint8Array(2);
    expect(unpackBits(Uint8Array.from([0xfd, 7]), 0, 2, out)).toBe(2);
    expect(() => unpackBits(Uint8Array.from([0x05, 1, 2]), 0, 3, new Uint8Array(6))).toThrow(/overruns/);
  });

  test('round trip with the test encoder, long runs and literals', () => {
    const src = Uint8Array.from({ length: 1000 }, (_, i) => (i < 300 ? 7 : i % 5 === 0 ? 1 : i & 0xff));
    const out = new Uint8Array(1000);
    const packed = packBits(src);
    expect(unpackBits(packed, 0, packed.length, out)).toBe(1000);
    expect(out).toEqual(src);
  });

  test('16-bit frame: segment 0 is the MSB plane; output is little endian', () => {
    const frame = rleFrame([Uint8Array.from([0x12, 0xab]), Uint8Array.from([0x34, 0xcd])]);
    expect(Array.from(decodeRleFrame(frame, 2, 1, 2))).toEqual([0x34, 0x12, 0xcd, 0xab]);
  });

  test('RGB 8-bit frame: planes R, G, B become interleaved', () => {
    const frame = rleFrame([Uint8Array.from([1, 2]), Uint8Array.from([3, 4]), Uint8Array.from([5, 6])]);
    expect(Array.from(decodeRleFrame(frame, 2, 3, 1))).toEqual([1, 3, 5, 2, 4, 6]);
  });

  test('short segment is corrupt', () => {
    const frame = rleFrame([Uint8Array.from([1])]);
    expect(() => decodeRleFrame(frame, 4, 1, 1)).toThrow(/decodes to 1 bytes/);
  });
});

describe('codestream headers', () => {
  test('JPEG SOF of fixture 04 and JPEG 2000 SIZ of fixture 01', () => {
    const jpegDicom = readFixture('04_Monochrome1-Jpeg.dcm');
    const sof = readJpegFrameHeader(jpegDicom.subarray(jpegDicom.indexOf(Buffer.from([0xff, 0xd8, 0xff]))));
    expect(sof).toEqual({ kind: 'jpeg-dct', precision: 8, width: 2010, height: 2446, components: 1 });
    const j2kDicom = readFixture('01_966_fixed.dcm');
    const siz = readJpeg2000FrameHeader(j2kDicom.subarray(j2kDicom.indexOf(Buffer.from([0xff, 0x4f, 0xff, 0x51]))));
    expect(siz).toMatchObject({ kind: 'jpeg2000', width: 2000, height: 2128, components: 1 });
  });
});
