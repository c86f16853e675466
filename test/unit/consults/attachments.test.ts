import { safeFilename, sniffAttachmentType } from '../../../server/consults/attachments';

describe('consult attachments', () => {
  test.each([
    ['png', [0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a, 0, 0], 'image/png'],
    ['jpeg', [0xff, 0xd8, 0xff, 0xe0, 0, 0x10], 'image/jpeg'],
    ['pdf', [...Buffer.from('%PDF-1.7\n')], 'application/pdf'],
    ['html named .png', [...Buffer.from('<html><script>')], null],
    ['truncated png', [0x89, 0x50, 0x4e], null],
    ['empty', [], null],
  ])('%s', (_n, bytes, expected) => {
    expect(sniffAttachmentType(Uint8Array.from(bytes))).toBe(expected);
  });

  test('file names lose paths and odd characters', () => {
    expect(safeFilename('../../etc/passwd', 'application/pdf')).toBe('passwd');
    expect(safeFilename('phim X-quang "ngực".png', 'image/png')).toBe('phim X-quang _ngực_.png');
    expect(safeFilename(undefined, 'image/jpeg')).toBe('attachment.jpg');
  });
});
