/** Rejection of broken, hostile and unsupported inputs: always ImageDecodeError with the right code, fast. */
import { randomBytes } from 'node:crypto';
import { PNG } from 'pngjs';
import { ImageDecodeError, type ImageDecodeErrorCode, decodeImage } from '../../../ml/decode';
import { findCodestreamStart } from '../../../ml/decode/codecs/stream-headers';
import { buildPart10, encapsulatedPixelData, imageElements, nativePixelData, u16le } from './dicom-builder';
import { readFixture } from './reference';

/** Milliseconds of this thread's CPU time spent in `work`: CPU starvation from parallel suites inflates wall time, not this. */
async function cpuMs(work: () => Promise<unknown>): Promise<number> {
  const started = process.threadCpuUsage();
  await work();
  const spent = process.threadCpuUsage(started);
  return (spent.user + spent.system) / 1000;
}

async function expectCode(input: Uint8Array, code: ImageDecodeErrorCode, limits?: Parameters<typeof decodeImage>[1]): Promise<ImageDecodeError> {
  let caught: unknown;
  try {
    await decodeImage(input, limits);
  } catch (err) {
    caught = err;
  }
  expect(caught).toBeInstanceOf(ImageDecodeError);
  const err = caught as ImageDecodeError;
  expect({ code: err.code, message: err.message }).toEqual({ code, message: expect.any(String) });
  return err;
}

describe('broken DICOM fixtures', () => {
  test('22: truncated pixel data (8,130 of 8,192 bytes) is rejected, not padded', async () => {
    await expectCode(readFixture('22_BROKEN_MR_truncated.dcm'), 'truncated');
  });

  test('23: header without a Pixel Data element', async () => {
    await expectCode(readFixture('23_BROKEN_CR_no_pixeldata.dcm'), 'no_pixel_data');
  });

  test('25: 65535×65535 allocation bomb fails fast without allocating', async () => {
    const buf = readFixture('25_BROKEN_oob_65535.dcm');
    const before = process.memoryUsage();
    const spent = await cpuMs(() => expectCode(buf, 'dimensions'));
    const after = process.memoryUsage();
    expect(spent).toBeLessThan(200);
    // 65535² × 2 bytes would be 8.6 GB; nothing proportional to it may be allocated.
    expect(after.arrayBuffers - before.arrayBuffers).toBeLessThan(16 * 1024 * 1024);
    expect(after.rss - before.rss).toBeLessThan(64 * 1024 * 1024);
  });

  test('25 with raised limits: declared size vs 256 bytes of data is still rejected before allocation', async () => {
    const before = process.memoryUsage().arrayBuffers;
    await expectCode(readFixture('25_BROKEN_oob_65535.dcm'), 'dimensions', { maxSide: 70000, maxPixels: 5e9 });
    expect(process.memoryUsage().arrayBuffers - before).toBeLessThan(16 * 1024 * 1024);
  });
});

describe('hostile and non-image input', () => {
  test('0-byte input', async () => {
    await expectCode(new Uint8Array(0), 'empty');
  });

  test('a 200 MB buffer is rejected by size before parsing', async () => {
    const huge = Buffer.alloc(200 * 1024 * 1024);
    huge.write('DICM', 128); // would sniff as DICOM if it got that far
    expect(await cpuMs(() => expectCode(huge, 'too_large'))).toBeLessThan(50);
  });

  test('maxBytes is configurable', async () => {
    await expectCode(readFixture('03_gdcm-CR-MONO1-10-chest.dcm'), 'too_large', { maxBytes: 1000 });
  });

  test('random bytes', async () => {
    for (let i = 0; i < 20; i++) await expectCode(randomBytes(1 + i * 997), 'unsupported_format');
  });

  test('text that is not an image', async () => {
    await expectCode(Buffer.from('%PDF-1.7\n...'), 'unsupported_format');
  });

  test('a PNG renamed .dcm decodes as PNG: format comes from the content, never the name', async () => {
    const png = new PNG({ width: 3, height: 2 });
    png.data.fill(200);
    const img = await decodeImage(PNG.sync.write(png)); // bytes read from "x.dcm" are still a PNG
    expect(img.format).toBe('png');
    expect(img.dicom).toBeUndefined();
  });

  test('DICM magic followed by garbage', async () => {
    for (let i = 0; i < 20; i++) {
      const buf = Buffer.concat([Buffer.alloc(128), Buffer.from('DICM'), randomBytes(4000)]);
      const err = await decodeImage(buf).catch((e: unknown) => e);
      expect(err).toBeInstanceOf(ImageDecodeError);
      expect(['corrupt', 'truncated', 'unsupported_transfer_syntax']).toContain((err as ImageDecodeError).code);
    }
  });

  test('truncated PNG / JPEG', async () => {
    const png = new PNG({ width: 64, height: 64 });
    for (let i = 0; i < png.data.length; i++) png.data[i] = (i * 7) & 255;
    const pngBytes = PNG.sync.write(png);
    const err = await decodeImage(pngBytes.subarray(0, pngBytes.length - 40)).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(ImageDecodeError);
    expect(['truncated', 'corrupt']).toContain((err as ImageDecodeError).code);
    await expectCode(Buffer.from([0xff, 0xd8, 0xff, 0xe0, 0x00]), 'corrupt');
  });

  test('PNG declaring a huge size is rejected from its header', async () => {
    const png = Buffer.from(PNG.sync.write(new PNG({ width: 2, height: 2 })));
    png.writeUInt32BE(60000, 16);
    png.writeUInt32BE(60000, 20);
    await expectCode(png, 'dimensions');
  });
});

describe('unsupported or inconsistent DICOM', () => {
  const chest = readFixture('03_gdcm-CR-MONO1-10-chest.dcm');

  function withTransferSyntax(buf: Buffer, from: string, to: string): Buffer {
    const copy = Buffer.from(buf);
    const at = copy.indexOf(from);
    expect(at).toBeGreaterThan(0);
    copy.write(to, at, 'latin1');
    return copy;
  }

  test('Explicit VR Big Endian is rejected as unsupported transfer syntax', async () => {
    const err = await expectCode(withTransferSyntax(chest, '1.2.840.10008.1.2.1', '1.2.840.10008.1.2.2'), 'unsupported_transfer_syntax');
    expect(err.message).toMatch(/Big Endian/);
  });

  test('an unknown transfer syntax (e.g. JPEG XL) is rejected', async () => {
    const ds = buildPart10({ transferSyntax: '1.2.840.10008.1.2.4.110', elements: imageElements({ rows: 2, columns: 2, bitsAllocated: 8 }) });
    await expectCode(ds, 'unsupported_transfer_syntax');
  });

  test('a 12-bit JPEG header in an 8-bit (Bits Allocated 8) DICOM is refused, not mis-decoded', async () => {
    const jpeg = readFixture('04_Monochrome1-Jpeg.dcm');
    const copy = withTransferSyntax(jpeg, '1.2.840.10008.1.2.4.50', '1.2.840.10008.1.2.4.51');
    const sof = copy.indexOf(Buffer.from([0xff, 0xc0]));
    copy[sof + 4] = 12; // SOF precision
    copy[sof + 1] = 0xc1;
    await expectCode(copy, 'corrupt');
  });

  test('pixel data element smaller than rows × columns × bytes', async () => {
    const ds = buildPart10({
      transferSyntax: '1.2.840.10008.1.2.1',
      elements: [...imageElements({ rows: 100, columns: 100, bitsAllocated: 16 }), nativePixelData(u16le(new Array(50).fill(7)), 16)],
    });
    await expectCode(ds, 'dimensions');
  });

  test('native file cut inside its pixel data', async () => {
    await expectCode(chest.subarray(0, chest.length - 1000), 'truncated');
  });

  test('encapsulated (JPEG 2000) file cut in half', async () => {
    const j2k = readFixture('01_966_fixed.dcm');
    await expectCode(j2k.subarray(0, Math.floor(j2k.length / 2)), 'truncated');
  });

  test.each([
    ['01_966_fixed.dcm', '1.2.840.10008.1.2.4.90', 2128, 2000, 16, 12, 'corrupt'],
    ['09_RG3_JPLL.dcm', '1.2.840.10008.1.2.4.70', 1760, 1760, 16, 10, 'truncated'],
    ['04_Monochrome1-Jpeg.dcm', '1.2.840.10008.1.2.4.50', 2446, 2010, 8, 8, 'corrupt'],
  ] as const)(
    '%s: codestream cut inside an intact DICOM structure is rejected, not zero-filled',
    async (name, ts, rows, columns, bitsAllocated, bitsStored, code) => {
      const src = readFixture(name);
      const start = ts.endsWith('.90') ? src.indexOf(Buffer.from([0xff, 0x4f, 0xff, 0x51])) : src.indexOf(Buffer.from([0xff, 0xd8, 0xff]));
      const end = src.lastIndexOf(Buffer.from([0xff, 0xd9])) + 2;
      const cut = src.subarray(start, start + Math.floor((end - start) * 0.9));
      const file = buildPart10({
        transferSyntax: ts,
        elements: imageElements({ rows, columns, bitsAllocated, bitsStored, photometric: 'MONOCHROME1' }),
        trailer: encapsulatedPixelData([cut]),
      });
      await expectCode(file, code);
    },
  );

  test('JPEG 2000 codestream declaring a different, huge size is rejected before decoding', async () => {
    const copy = Buffer.from(readFixture('01_966_fixed.dcm'));
    const soc = findCodestreamStart(copy);
    expect(soc).toBeGreaterThan(0);
    copy.writeUInt32BE(60000, soc + 2 + 6); // Xsiz
    copy.writeUInt32BE(60000, soc + 2 + 10); // Ysiz
    expect(await cpuMs(() => expectCode(copy, 'dimensions'))).toBeLessThan(500);
    copy.writeUInt32BE(2001, soc + 2 + 6);
    copy.writeUInt32BE(2128, soc + 2 + 10);
    await expectCode(copy, 'corrupt'); // disagrees with the DICOM header
  });

  test('Bits Allocated 32 and PALETTE COLOR are unsupported formats', async () => {
    const ba32 = buildPart10({
      transferSyntax: '1.2.840.10008.1.2.1',
      elements: [...imageElements({ rows: 2, columns: 2, bitsAllocated: 16, extra: [] }), nativePixelData(new Uint8Array(16), 16)],
    });
    const patched = Buffer.from(ba32);
    const at = patched.indexOf(Buffer.from([0x28, 0x00, 0x00, 0x01, 0x55, 0x53, 0x02, 0x00])); // (0028,0100) US len 2
    patched.writeUInt16LE(32, at + 8);
    await expectCode(patched, 'unsupported_format');
    const palette = buildPart10({
      transferSyntax: '1.2.840.10008.1.2.1',
      elements: [...imageElements({ rows: 2, columns: 2, bitsAllocated: 8, photometric: 'PALETTE COLOR' }), nativePixelData(new Uint8Array(4), 8)],
    });
    await expectCode(palette, 'unsupported_format');
  });
});
