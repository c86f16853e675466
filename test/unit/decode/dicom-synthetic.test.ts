/**
 * Pixel-module semantics on small synthetic files with known values: bits stored / high bit,
 * signed pixels, rescale, window / min–max, MONOCHROME1 and Presentation LUT Shape, multi-frame,
 * colour, deflate, raw streams, RLE and JPEG-LS round trips, and codec failure handling.
 */
import { decodeDicomStored, decodeImage } from '../../../ml/decode';
import { applyVoi } from '../../../ml/decode/voi';
import { type ImageSpec, buildPart10, buildRawStream, encapsulatedPixelData, imageElements, nativePixelData, rleFrame, u16le } from './dicom-builder';
import { readFixture } from './reference';

const EXPLICIT = '1.2.840.10008.1.2.1';
const IMPLICIT = '1.2.840.10008.1.2';

function nativeFile(spec: ImageSpec, pixels: Uint8Array, transferSyntax = EXPLICIT, deflate = false): Uint8Array {
  return buildPart10({ transferSyntax, deflate, elements: [...imageElements(spec), nativePixelData(pixels, spec.bitsAllocated)] });
}

function f32(values: number[]): number[] {
  return values.map((v) => Math.fround(v));
}

describe('stored values', () => {
  test('bits above Bits Stored are masked off (overlay / garbage bits)', async () => {
    const values = [0, 1, 511, 1023];
    const withGarbage = values.map((v, i) => v | ((i + 1) << 12));
    const { stored } = await decodeDicomStored(nativeFile({ rows: 2, columns: 2, bitsAllocated: 16, bitsStored: 10 }, u16le(withGarbage)));
    expect(Array.from(stored)).toEqual(values);
  });

  test('signed 12-bit in 16 is sign-extended from bit 11', async () => {
    const values = [-2048, -1, 0, 2047];
    const raw = values.map((v) => (v & 0xfff) | 0xa000); // garbage in bits 12-15
    const { stored } = await decodeDicomStored(nativeFile({ rows: 1, columns: 4, bitsAllocated: 16, bitsStored: 12, pixelRepresentation: 1 }, u16le(raw)));
    expect(Array.from(stored)).toEqual(values);
  });

  test('High Bit above Bits Stored − 1 (data in the upper bits)', async () => {
    const values = [0, 5, 4095];
    const { stored } = await decodeDicomStored(
      nativeFile({ rows: 1, columns: 3, bitsAllocated: 16, bitsStored: 12, highBit: 15 }, u16le(values.map((v) => v << 4))),
    );
    expect(Array.from(stored)).toEqual(values);
  });

  test('8-bit native', async () => {
    const { stored } = await decodeDicomStored(nativeFile({ rows: 1, columns: 3, bitsAllocated: 8 }, new Uint8Array([0, 128, 255])));
    expect(Array.from(stored)).toEqual([0, 128, 255]);
  });

  test('multi-frame: the first frame only', async () => {
    const frame1 = [1, 2, 3, 4];
    const frame2 = [9, 9, 9, 9];
    const { stored } = await decodeDicomStored(nativeFile({ rows: 2, columns: 2, bitsAllocated: 16, numberOfFrames: 2 }, u16le([...frame1, ...frame2])));
    expect(Array.from(stored)).toEqual(frame1);
  });
});

describe('greyscale rendering', () => {
  const ramp = [0, 100, 200, 300, 400, 500, 600, 700, 800, 900, 1000, 1023];

  test('window centre/width: linear VOI of PS3.3 C.11.2.1.2.1 on rescaled values', async () => {
    const img = await decodeImage(nativeFile({ rows: 3, columns: 4, bitsAllocated: 16, bitsStored: 10, window: [300, 400], rescale: [2, -100] }, u16le(ramp)));
    const expected = ramp.map((x) => applyVoi(x * 2 - 100, 300, 400, 'LINEAR'));
    expect(Array.from(img.pixels)).toEqual(f32(expected));
    // Spot-check the formula itself: x = 300 (y = 0.5 + 0.5/399), below / above the window.
    expect(applyVoi(300, 300, 400, 'LINEAR')).toBeCloseTo(0.5 + 0.5 / 399, 12);
    expect(applyVoi(100, 300, 400, 'LINEAR')).toBe(0);
    expect(applyVoi(500, 300, 400, 'LINEAR')).toBe(1);
    expect(img.dicom).toMatchObject({
      windowCenter: 300,
      windowWidth: 400,
      rescaleSlope: 2,
      rescaleIntercept: -100,
      photometric: 'MONOCHROME2',
      bitsStored: 10,
      modality: 'CR',
      bodyPart: 'CHEST',
      patientId: 'TEST-PATIENT',
      sopInstanceUid: '1.2.3.4.5',
    });
  });

  test('multi-valued window: the first value is used', async () => {
    const spec: ImageSpec = { rows: 3, columns: 4, bitsAllocated: 16, bitsStored: 10 };
    const elements = [...imageElements(spec), nativePixelData(u16le(ramp), 16)];
    const file = buildPart10({
      transferSyntax: EXPLICIT,
      elements: [
        ...elements,
        { group: 0x0028, element: 0x1050, vr: 'DS', value: Buffer.from('500\\40 ') },
        { group: 0x0028, element: 0x1051, vr: 'DS', value: Buffer.from('1000\\80') },
      ],
    });
    const img = await decodeImage(file);
    expect(img.dicom).toMatchObject({ windowCenter: 500, windowWidth: 1000 });
    expect(Array.from(img.pixels)).toEqual(f32(ramp.map((x) => applyVoi(x, 500, 1000, 'LINEAR'))));
  });

  test('no window: min–max of the stored values', async () => {
    const img = await decodeImage(nativeFile({ rows: 1, columns: 3, bitsAllocated: 16, bitsStored: 12 }, u16le([100, 200, 300])));
    expect(Array.from(img.pixels)).toEqual([0, 0.5, 1]);
    expect(img.dicom?.windowCenter).toBeUndefined();
  });

  test('no window with a negative slope keeps higher modality values brighter', async () => {
    const img = await decodeImage(nativeFile({ rows: 1, columns: 3, bitsAllocated: 16, rescale: [-1, 1000] }, u16le([100, 200, 300])));
    expect(Array.from(img.pixels)).toEqual([1, 0.5, 0]);
  });

  test('MONOCHROME1 is inverted; INVERSE on MONOCHROME1 is the same single inversion', async () => {
    const pixels = u16le([100, 200, 300]);
    const spec: ImageSpec = { rows: 1, columns: 3, bitsAllocated: 16 };
    const mono2 = await decodeImage(nativeFile(spec, pixels));
    const mono1 = await decodeImage(nativeFile({ ...spec, photometric: 'MONOCHROME1' }, pixels));
    const mono1Inverse = await decodeImage(nativeFile({ ...spec, photometric: 'MONOCHROME1', presentationLutShape: 'INVERSE' }, pixels));
    const mono2Inverse = await decodeImage(nativeFile({ ...spec, presentationLutShape: 'INVERSE' }, pixels));
    const mono2Identity = await decodeImage(nativeFile({ ...spec, presentationLutShape: 'IDENTITY' }, pixels));
    expect(Array.from(mono2.pixels)).toEqual([0, 0.5, 1]);
    expect(Array.from(mono1.pixels)).toEqual([1, 0.5, 0]);
    expect(Array.from(mono1Inverse.pixels)).toEqual([1, 0.5, 0]);
    expect(Array.from(mono2Inverse.pixels)).toEqual([1, 0.5, 0]);
    expect(Array.from(mono2Identity.pixels)).toEqual([0, 0.5, 1]);
  });

  test('VOI LUT Function SIGMOID and LINEAR_EXACT', async () => {
    const sigmoid = { group: 0x0028, element: 0x1056, vr: 'CS', value: Buffer.from('SIGMOID ') };
    const img = await decodeImage(nativeFile({ rows: 1, columns: 3, bitsAllocated: 16, window: [200, 100], extra: [sigmoid] }, u16le([100, 200, 300])));
    expect(Array.from(img.pixels)).toEqual(f32([1 / (1 + Math.exp(4)), 0.5, 1 / (1 + Math.exp(-4))]));
    expect(applyVoi(150, 200, 100, 'LINEAR_EXACT')).toBe(0);
    expect(applyVoi(225, 200, 100, 'LINEAR_EXACT')).toBe(0.75);
  });
});

describe('transfer syntaxes and containers', () => {
  const spec: ImageSpec = { rows: 4, columns: 5, bitsAllocated: 16, bitsStored: 12, window: [2000, 4000] };
  const values = Array.from({ length: 20 }, (_, i) => (i * 211) % 4096);
  const reference = () => decodeImage(nativeFile(spec, u16le(values)));

  test('implicit VR little endian Part 10', async () => {
    const img = await decodeImage(nativeFile(spec, u16le(values), IMPLICIT));
    expect(img.pixels).toEqual((await reference()).pixels);
    expect(img.dicom?.transferSyntaxUid).toBe(IMPLICIT);
  });

  test('deflated explicit VR little endian', async () => {
    const img = await decodeImage(nativeFile(spec, u16le(values), '1.2.840.10008.1.2.1.99', true));
    expect(img.pixels).toEqual((await reference()).pixels);
  });

  test('deflate bomb is bounded by maxBytes', async () => {
    const bomb = buildPart10({
      transferSyntax: '1.2.840.10008.1.2.1.99',
      deflate: true,
      elements: [...imageElements({ rows: 4000, columns: 4000, bitsAllocated: 16 }), nativePixelData(new Uint8Array(32e6), 16)],
    });
    expect(bomb.length).toBeLessThan(100_000);
    await expect(decodeImage(bomb, { maxBytes: 8 * 1024 * 1024 })).rejects.toMatchObject({ code: 'too_large' });
  });

  test('raw streams without preamble or meta: implicit (assumed) and explicit VR', async () => {
    const elements = [...imageElements(spec), nativePixelData(u16le(values), 16)];
    const implicit = await decodeImage(buildRawStream(elements, false));
    const explicit = await decodeImage(buildRawStream(elements, true));
    expect(implicit.pixels).toEqual((await reference()).pixels);
    expect(explicit.pixels).toEqual((await reference()).pixels);
    expect(implicit.dicom?.transferSyntaxUid).toBe(IMPLICIT);
  });

  test('RLE Lossless 16-bit (MSB segment first) equals native', async () => {
    const n = values.length;
    const msb = new Uint8Array(n);
    const lsb = new Uint8Array(n);
    values.forEach((v, i) => {
      msb[i] = v >> 8;
      lsb[i] = v & 0xff;
    });
    const file = buildPart10({ transferSyntax: '1.2.840.10008.1.2.5', elements: imageElements(spec), trailer: encapsulatedPixelData([rleFrame([msb, lsb])]) });
    const img = await decodeImage(file);
    expect(img.pixels).toEqual((await reference()).pixels);
  });

  test('RLE with the wrong number of segments is corrupt', async () => {
    const file = buildPart10({
      transferSyntax: '1.2.840.10008.1.2.5',
      elements: imageElements(spec),
      trailer: encapsulatedPixelData([rleFrame([new Uint8Array(20)])]),
    });
    await expect(decodeImage(file)).rejects.toMatchObject({ code: 'corrupt' });
  });

  test('multi-frame RLE without offset table: first fragment is frame 1', async () => {
    const frame = (fill: number) => rleFrame([new Uint8Array(20).fill(0), new Uint8Array(20).fill(fill)]);
    const file = buildPart10({
      transferSyntax: '1.2.840.10008.1.2.5',
      elements: imageElements({ ...spec, numberOfFrames: 2, window: undefined }),
      trailer: encapsulatedPixelData([frame(7), frame(9)]),
    });
    const { stored } = await decodeDicomStored(file);
    expect(Array.from(stored)).toEqual(new Array(20).fill(7));
  });

  test('JPEG-LS lossless (CharLS-encoded) equals native', async () => {
    // eslint-disable-next-line @typescript-eslint/no-require-imports -- the wasm codec factory is CommonJS-only
    const factory = require('@cornerstonejs/codec-charls/wasmjs') as (arg: object) => Promise<{
      JpegLSEncoder: new () => { getDecodedBuffer(info: object): Uint8Array; encode(): void; getEncodedBuffer(): Uint8Array; delete(): void };
    }>;
    const charls = await factory({ print: () => undefined, printErr: () => undefined });
    const encoder = new charls.JpegLSEncoder();
    encoder.getDecodedBuffer({ width: 5, height: 4, bitsPerSample: 12, componentCount: 1, isSigned: false }).set(u16le(values));
    encoder.encode();
    const encoded = new Uint8Array(encoder.getEncodedBuffer());
    encoder.delete();
    const file = buildPart10({ transferSyntax: '1.2.840.10008.1.2.4.80', elements: imageElements(spec), trailer: encapsulatedPixelData([encoded]) });
    const img = await decodeImage(file);
    expect(img.pixels).toEqual((await reference()).pixels);
    expect(Array.from((await decodeDicomStored(file)).stored)).toEqual(values);
  });

  test('RGB native, interleaved and planar: BT.601 luminance', async () => {
    const rgb = [255, 0, 0, 0, 255, 0, 0, 0, 255, 10, 20, 30];
    const planar = [255, 0, 0, 10, 0, 255, 0, 20, 0, 0, 255, 30];
    const expected = f32([0.299 * 255, 0.587 * 255, 0.114 * 255, 0.299 * 10 + 0.587 * 20 + 0.114 * 30].map((y) => y / 255));
    const colour: ImageSpec = { rows: 2, columns: 2, bitsAllocated: 8, samplesPerPixel: 3, photometric: 'RGB' };
    const a = await decodeImage(nativeFile(colour, new Uint8Array(rgb)));
    const b = await decodeImage(nativeFile({ ...colour, planarConfiguration: 1 }, new Uint8Array(planar)));
    expect(Array.from(a.pixels)).toEqual(expected);
    expect(Array.from(b.pixels)).toEqual(expected);
  });

  test('YBR_FULL native: the Y sample is the luminance', async () => {
    const ybr = [76, 128, 128, 200, 10, 240];
    const img = await decodeImage(nativeFile({ rows: 1, columns: 2, bitsAllocated: 8, samplesPerPixel: 3, photometric: 'YBR_FULL' }, new Uint8Array(ybr)));
    expect(Array.from(img.pixels)).toEqual(f32([76 / 255, 200 / 255]));
  });
});

test('a real codec error on a garbage JPEG-LS stream is corrupt', async () => {
  const stub = new Uint8Array([0xff, 0xd8, 0xff, 0xf7, 0x00, 0x0b, 0x0c, 0x00, 0x04, 0x00, 0x05, 0x01, 0x01, 0x11, 0x00, 0xff, 0xd9]);
  const file = buildPart10({
    transferSyntax: '1.2.840.10008.1.2.4.80',
    elements: imageElements({ rows: 4, columns: 5, bitsAllocated: 16, bitsStored: 12 }),
    trailer: encapsulatedPixelData([stub]),
  });
  await expect(decodeImage(file)).rejects.toMatchObject({ code: 'corrupt' });
});

test('8-bit JPEG Extended (.51, SOF1) decodes like baseline', async () => {
  const baseline = readFixture('04_Monochrome1-Jpeg.dcm');
  const extended = Buffer.from(baseline);
  extended.write('1.2.840.10008.1.2.4.51', extended.indexOf('1.2.840.10008.1.2.4.50'), 'latin1');
  extended[extended.indexOf(Buffer.from([0xff, 0xc0])) + 1] = 0xc1;
  const a = await decodeImage(baseline);
  const b = await decodeImage(extended);
  expect(b.dicom?.transferSyntaxUid).toBe('1.2.840.10008.1.2.4.51');
  // Byte comparison: jest's deep equality on 4.9 M-element typed arrays takes tens of seconds.
  expect(Buffer.from(b.pixels.buffer).equals(Buffer.from(a.pixels.buffer))).toBe(true);
});
