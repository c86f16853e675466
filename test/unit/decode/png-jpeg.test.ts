/** PNG and JPEG decoding against the ML preprocessing contract (grey v/max, RGB → BT.601 Y / 255). */
import * as jpeg from 'jpeg-js';
import { PNG } from 'pngjs';
import { decodeDicomStored, decodeImage, toGray01 } from '../../../ml/decode';
import { readFixture, samplePositions } from './reference';

type PngOptions = { colorType: 0 | 2 | 4 | 6; bitDepth: 8 | 16; inputColorType: 0 | 2 | 4 | 6; inputHasAlpha: boolean };

function encodePng(width: number, height: number, data: Uint8Array | Uint16Array, opts: PngOptions): Buffer {
  const png = new PNG({ width, height, ...opts });
  png.data = Buffer.from(data.buffer, data.byteOffset, data.byteLength);
  return PNG.sync.write(png, opts);
}

const W = 7;
const H = 5;
const N = W * H;

test('8-bit grey PNG: v / 255', async () => {
  const grey = Uint8Array.from({ length: N }, (_, i) => (i * 37) % 256);
  const img = await decodeImage(encodePng(W, H, grey, { colorType: 0, bitDepth: 8, inputColorType: 0, inputHasAlpha: false }));
  expect(img).toMatchObject({ format: 'png', width: W, height: H });
  expect(Array.from(img.pixels)).toEqual(Array.from(grey, (v) => Math.fround(v / 255)));
});

test('16-bit grey PNG: v / 65535, full precision kept', async () => {
  const grey = Uint16Array.from({ length: N }, (_, i) => (i * 1877 + 3) % 65536);
  const img = await decodeImage(encodePng(W, H, grey, { colorType: 0, bitDepth: 16, inputColorType: 0, inputHasAlpha: false }));
  expect(Array.from(img.pixels)).toEqual(Array.from(grey, (v) => Math.fround(v / 65535)));
});

test('RGB PNG: (0.299 R + 0.587 G + 0.114 B) / 255 in float64', async () => {
  const rgb = Uint8Array.from({ length: N * 3 }, (_, i) => (i * 53 + 11) % 256);
  const img = await decodeImage(encodePng(W, H, rgb, { colorType: 2, bitDepth: 8, inputColorType: 2, inputHasAlpha: false }));
  const expected = Array.from({ length: N }, (_, i) => Math.fround((0.299 * rgb[3 * i]! + 0.587 * rgb[3 * i + 1]! + 0.114 * rgb[3 * i + 2]!) / 255));
  expect(Array.from(img.pixels)).toEqual(expected);
});

test('RGBA PNG: alpha ignored', async () => {
  const rgba = Uint8Array.from({ length: N * 4 }, (_, i) => (i % 4 === 3 ? (i * 7) % 256 : (i * 29 + 5) % 256));
  const opaque = Uint8Array.from(rgba, (v, i) => (i % 4 === 3 ? 255 : v));
  const opts: PngOptions = { colorType: 6, bitDepth: 8, inputColorType: 6, inputHasAlpha: true };
  const img = await decodeImage(encodePng(W, H, rgba, opts));
  const ref = await decodeImage(encodePng(W, H, opaque, opts));
  const expected = Array.from({ length: N }, (_, i) => Math.fround((0.299 * rgba[4 * i]! + 0.587 * rgba[4 * i + 1]! + 0.114 * rgba[4 * i + 2]!) / 255));
  expect(Array.from(img.pixels)).toEqual(expected);
  expect(img.pixels).toEqual(ref.pixels);
});

test('grey + alpha PNG: grey channel only', async () => {
  const ga = Uint8Array.from({ length: N * 2 }, (_, i) => (i % 2 ? 0 : (i * 13) % 256));
  const img = await decodeImage(encodePng(W, H, ga, { colorType: 4, bitDepth: 8, inputColorType: 4, inputHasAlpha: true }));
  expect(Array.from(img.pixels)).toEqual(Array.from({ length: N }, (_, i) => Math.fround(ga[2 * i]! / 255)));
});

describe('JPEG (encoded with jpeg-js, decoded with libjpeg-turbo)', () => {
  const w = 32;
  const h = 24;
  const rgba = new Uint8Array(w * h * 4);
  for (let y = 0; y < h; y++)
    for (let x = 0; x < w; x++) {
      const o = (y * w + x) * 4;
      rgba[o] = x * 8;
      rgba[o + 1] = y * 10;
      rgba[o + 2] = 128;
      rgba[o + 3] = 255;
    }

  test('colour JPEG → luminance, within JPEG quantisation of the source luminance', async () => {
    const encoded = jpeg.encode({ data: Buffer.from(rgba), width: w, height: h }, 95).data;
    const img = await decodeImage(encoded);
    expect(img).toMatchObject({ format: 'jpeg', width: w, height: h });
    // Same contract applied to jpeg-js's own decode of the same file: decoders differ by IDCT rounding only.
    const other = jpeg.decode(encoded, { useTArray: true, formatAsRGBA: true });
    const viaJpegJs = toGray01({ width: w, height: h, stride: 4, colour: 'rgb', maxValue: 255, data: other.data });
    let maxDiff = 0;
    let maxSourceDiff = 0;
    for (let i = 0; i < w * h; i++) {
      maxDiff = Math.max(maxDiff, Math.abs(img.pixels[i]! - viaJpegJs[i]!));
      const source = (0.299 * rgba[4 * i]! + 0.587 * rgba[4 * i + 1]! + 0.114 * rgba[4 * i + 2]!) / 255;
      maxSourceDiff = Math.max(maxSourceDiff, Math.abs(img.pixels[i]! - source));
    }
    expect(maxDiff).toBeLessThanOrEqual(3 / 255);
    expect(maxSourceDiff).toBeLessThan(0.05);
  });

  test('a single-component (grey) JPEG → v / 255 (the 8-bit chest JPEG from fixture 04, outside its DICOM wrapper)', async () => {
    const dicom = readFixture('04_Monochrome1-Jpeg.dcm');
    const start = dicom.indexOf(Buffer.from([0xff, 0xd8, 0xff]));
    const end = dicom.lastIndexOf(Buffer.from([0xff, 0xd9])) + 2;
    const img = await decodeImage(dicom.subarray(start, end));
    expect(img).toMatchObject({ format: 'jpeg', width: 2010, height: 2446 });
    expect(img.dicom).toBeUndefined();
    const { stored } = await decodeDicomStored(dicom);
    for (const p of samplePositions(stored.length)) expect(img.pixels[p]).toBe(Math.fround(stored[p]! / 255));
  });
});

describe('toGray01', () => {
  test('grey and RGB rasters, stride and maxValue honoured, float64 then float32', () => {
    expect(Array.from(toGray01({ width: 2, height: 1, stride: 1, colour: 'grey', maxValue: 255, data: [0, 255] }))).toEqual([0, 1]);
    expect(Array.from(toGray01({ width: 2, height: 1, stride: 2, colour: 'grey', maxValue: 65535, data: [65535, 0, 32768, 7] }))).toEqual([
      1,
      Math.fround(32768 / 65535),
    ]);
    const y = (0.299 * 10 + 0.587 * 200 + 0.114 * 30) / 255;
    expect(Array.from(toGray01({ width: 1, height: 1, stride: 4, colour: 'rgb', maxValue: 255, data: [10, 200, 30, 0] }))).toEqual([Math.fround(y)]);
  });

  test('rejects short data', () => {
    expect(() => toGray01({ width: 2, height: 2, stride: 3, colour: 'rgb', maxValue: 255, data: [1, 2, 3] })).toThrow(RangeError);
  });
});
