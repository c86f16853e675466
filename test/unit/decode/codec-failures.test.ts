/** A codec that misbehaves (all-zero, wrong size, wrong geometry, throws) must yield `corrupt`, never a blank image. */
import type { CodecOutput } from '../../../ml/decode/codecs/emscripten';
import { ImageDecodeError, decodeImage } from '../../../ml/decode';
import { buildPart10, encapsulatedPixelData, imageElements } from './dicom-builder';

const mockDecodeJpegLs = jest.fn<Promise<CodecOutput>, [Uint8Array]>();
jest.mock('../../../ml/decode/codecs/charls', () => ({ decodeJpegLs: (b: Uint8Array) => mockDecodeJpegLs(b) }));

// A syntactically valid JPEG-LS frame header for 5×4, 12-bit, 1 component (SOI, SOF55, EOI).
const JPEG_LS_STUB = new Uint8Array([0xff, 0xd8, 0xff, 0xf7, 0x00, 0x0b, 0x0c, 0x00, 0x04, 0x00, 0x05, 0x01, 0x01, 0x11, 0x00, 0xff, 0xd9]);

function file(): Uint8Array {
  return buildPart10({
    transferSyntax: '1.2.840.10008.1.2.4.80',
    elements: imageElements({ rows: 4, columns: 5, bitsAllocated: 16, bitsStored: 12 }),
    trailer: encapsulatedPixelData([JPEG_LS_STUB]),
  });
}

function codecReturns(bytes: Uint8Array, width = 5, height = 4): void {
  mockDecodeJpegLs.mockResolvedValueOnce({ frameInfo: { width, height, bitsPerSample: 12, componentCount: 1, isSigned: false }, bytes });
}

test('sane output decodes (control)', async () => {
  codecReturns(new Uint8Array(40).fill(1));
  const img = await decodeImage(file());
  expect(img.width).toBe(5);
});

test('all-zero output', async () => {
  codecReturns(new Uint8Array(40));
  await expect(decodeImage(file())).rejects.toMatchObject({ code: 'corrupt', message: expect.stringMatching(/all-zero/) });
});

test('wrong-size output', async () => {
  codecReturns(new Uint8Array(38).fill(1));
  await expect(decodeImage(file())).rejects.toMatchObject({ code: 'corrupt' });
});

test('wrong geometry', async () => {
  codecReturns(new Uint8Array(40).fill(1), 4, 5);
  await expect(decodeImage(file())).rejects.toMatchObject({ code: 'corrupt' });
});

test('a non-ImageDecodeError thrown inside a codec is wrapped', async () => {
  mockDecodeJpegLs.mockRejectedValueOnce(new TypeError('boom'));
  const err = await decodeImage(file()).catch((e: unknown) => e);
  expect(err).toBeInstanceOf(ImageDecodeError);
  expect(err).toMatchObject({ code: 'corrupt' });
  expect((err as ImageDecodeError).cause).toBeInstanceOf(TypeError);
});
