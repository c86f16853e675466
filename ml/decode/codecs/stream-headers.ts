/**
 * Minimal readers for the frame headers of JPEG, JPEG-LS and JPEG 2000 codestreams, used to check
 * the dimensions a codec will allocate for BEFORE handing it the stream (a codestream can declare a
 * larger image than the DICOM header around it).
 */
export interface StreamFrameHeader {
  kind: 'jpeg-dct' | 'jpeg-lossless' | 'jpeg-ls' | 'jpeg2000';
  width: number;
  height: number;
  components: number;
  /** Sample precision in bits (of the first component for JPEG 2000). */
  precision: number;
  /** JPEG 2000 only: first component is signed. */
  signed?: boolean;
}

const SOF_LOSSLESS = new Set([0xc3, 0xc7, 0xcb, 0xcf]);
const SOF_DCT = new Set([0xc0, 0xc1, 0xc2, 0xc5, 0xc6, 0xc9, 0xca, 0xcd, 0xce]);
const SOF_JPEG_LS = 0xf7;

/** Reads the SOF segment of a JPEG / JPEG-LS stream, or returns null if none precedes the first scan. */
export function readJpegFrameHeader(buf: Uint8Array): StreamFrameHeader | null {
  if (buf.length < 4 || buf[0] !== 0xff || buf[1] !== 0xd8) return null;
  let pos = 2;
  while (pos + 4 <= buf.length) {
    if (buf[pos] !== 0xff) return null;
    const marker = buf[pos + 1] as number;
    if (marker === 0xff) {
      pos++; // fill byte
      continue;
    }
    if (marker === 0xd8 || marker === 0x01 || (marker >= 0xd0 && marker <= 0xd7)) {
      pos += 2;
      continue;
    }
    if (marker === 0xd9 || marker === 0xda) return null; // EOI / SOS before any SOF
    const length = u16be(buf, pos + 2);
    if (length < 2) return null;
    const isDct = SOF_DCT.has(marker);
    const isLossless = SOF_LOSSLESS.has(marker);
    if (isDct || isLossless || marker === SOF_JPEG_LS) {
      if (pos + 10 > buf.length) return null;
      return {
        kind: marker === SOF_JPEG_LS ? 'jpeg-ls' : isLossless ? 'jpeg-lossless' : 'jpeg-dct',
        precision: buf[pos + 4] as number,
        height: u16be(buf, pos + 5),
        width: u16be(buf, pos + 7),
        components: buf[pos + 9] as number,
      };
    }
    pos += 2 + length;
  }
  return null;
}

/** Reads the SIZ segment of a JPEG 2000 codestream (raw, or the jp2c box of a JP2 file). */
export function readJpeg2000FrameHeader(buf: Uint8Array): StreamFrameHeader | null {
  const start = findCodestreamStart(buf);
  if (start < 0) return null;
  const siz = start + 2; // FF51
  // FF51 Lsiz(2) Rsiz(2) Xsiz(4) Ysiz(4) XOsiz(4) YOsiz(4) XTsiz(4) YTsiz(4) XTOsiz(4) YTOsiz(4) Csiz(2) Ssiz(1)…
  if (siz + 41 > buf.length) return null;
  const xsiz = u32be(buf, siz + 6);
  const ysiz = u32be(buf, siz + 10);
  const xosiz = u32be(buf, siz + 14);
  const yosiz = u32be(buf, siz + 18);
  const csiz = u16be(buf, siz + 38);
  const ssiz = buf[siz + 40] as number;
  return {
    kind: 'jpeg2000',
    width: xsiz - xosiz,
    height: ysiz - yosiz,
    components: csiz,
    precision: (ssiz & 0x7f) + 1,
    signed: (ssiz & 0x80) !== 0,
  };
}

/** Offset of the SOC marker (FF4F FF51), or -1. Looks only at the first 64 KiB (JP2 boxes precede it). */
export function findCodestreamStart(buf: Uint8Array): number {
  const end = Math.min(buf.length - 4, 65536);
  for (let i = 0; i <= end; i++) {
    if (buf[i] === 0xff && buf[i + 1] === 0x4f && buf[i + 2] === 0xff && buf[i + 3] === 0x51) return i;
  }
  return -1;
}

function u16be(buf: Uint8Array, pos: number): number {
  return (((buf[pos] ?? 0) << 8) | (buf[pos + 1] ?? 0)) >>> 0;
}

function u32be(buf: Uint8Array, pos: number): number {
  return u16be(buf, pos) * 65536 + u16be(buf, pos + 2);
}
