import { multipartParts } from '../../../server/imaging/dicomweb';

test('multipart/related parts are split on the boundary, headers dropped, binary kept', () => {
  const a = Buffer.from([0, 1, 2, 0x0d, 0x0a, 0x2d, 0x2d, 3]);
  const body = Buffer.concat([
    Buffer.from('--b1\r\nContent-Type: application/dicom\r\n\r\n'),
    a,
    Buffer.from('\r\n--b1\r\nContent-Type: application/dicom\r\n\r\n'),
    Buffer.from('second'),
    Buffer.from('\r\n--b1--\r\n'),
  ]);
  const parts = multipartParts(body, 'multipart/related; type="application/dicom"; boundary=b1');
  expect(parts.map((p) => Buffer.from(p))).toEqual([a, Buffer.from('second')]);
  expect(multipartParts(new Uint8Array([9]), 'application/dicom')).toEqual([new Uint8Array([9])]);
});
