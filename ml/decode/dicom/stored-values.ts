/** Extraction of stored pixel values (greyscale) or luminance (colour) from decoded frame samples. */
import { ImageDecodeError } from '../errors';
import { LUMA_B, LUMA_G, LUMA_R } from '../gray';
import type { FrameSamples } from './decode-frame';
import type { DicomHeader } from './parse';

/**
 * Stored values of a greyscale frame: each sample is shifted so High Bit lands at BitsStored − 1
 * (native data only; codecs already produce right-aligned samples), masked to Bits Stored (bits
 * above it may hold overlays or garbage) and sign-extended when Pixel Representation is 1.
 */
export function greyStoredValues(samples: FrameSamples, header: DicomHeader, native: boolean): Int32Array {
  if (samples.layout !== 'grey') throw new ImageDecodeError('corrupt', 'greyStoredValues called on colour samples');
  const n = header.rows * header.columns;
  const bits = Math.min(header.bitsStored, samples.bytesPerSample * 8);
  const shift = native && header.highBit + 1 > bits && header.highBit < header.bitsAllocated ? header.highBit + 1 - bits : 0;
  const mask = bits >= 32 ? 0xffffffff : 2 ** bits - 1;
  const signBit = header.pixelRepresentation === 1 ? 2 ** (bits - 1) : 0;
  const range = 2 ** bits;
  const { bytes } = samples;
  const out = new Int32Array(n);
  if (samples.bytesPerSample === 1) {
    for (let i = 0; i < n; i++) out[i] = ((bytes[i] as number) >>> shift) & mask;
  } else {
    for (let i = 0, p = 0; i < n; i++, p += 2) out[i] = ((((bytes[p + 1] as number) << 8) | (bytes[p] as number)) >>> shift) & mask;
  }
  if (signBit) {
    for (let i = 0; i < n; i++) {
      const v = out[i] as number;
      if (v >= signBit) out[i] = v - range;
    }
  }
  return out;
}

/**
 * Luminance in [0,1] of a colour frame: RGB → 0.299 R + 0.587 G + 0.114 B (float64, the PNG/JPEG
 * contract); YBR_FULL → the Y sample, which is that same weighted sum. Divided by 2^BitsStored − 1.
 */
export function colourLuminance01(samples: FrameSamples, header: DicomHeader): Float32Array {
  const n = header.rows * header.columns;
  const bits = Math.min(header.bitsStored, samples.bytesPerSample * 8);
  const maxValue = 2 ** bits - 1;
  const read = sampleReader(samples);
  const out = new Float32Array(n);
  switch (samples.layout) {
    case 'rgb':
      for (let i = 0; i < n; i++) out[i] = (LUMA_R * read(3 * i) + LUMA_G * read(3 * i + 1) + LUMA_B * read(3 * i + 2)) / maxValue;
      break;
    case 'rgb-planar':
      for (let i = 0; i < n; i++) out[i] = (LUMA_R * read(i) + LUMA_G * read(n + i) + LUMA_B * read(2 * n + i)) / maxValue;
      break;
    case 'ybr':
      for (let i = 0; i < n; i++) out[i] = read(3 * i) / maxValue;
      break;
    case 'ybr-planar':
      for (let i = 0; i < n; i++) out[i] = read(i) / maxValue;
      break;
    case 'ybr422': {
      // Y0 Y1 Cb Cr for each horizontal pixel pair.
      for (let i = 0; i < n; i++) out[i] = read(2 * (i & ~1) + (i & 1)) / maxValue;
      break;
    }
    case 'grey':
      throw new ImageDecodeError('corrupt', 'colourLuminance01 called on greyscale samples');
  }
  return out;
}

function sampleReader(samples: FrameSamples): (index: number) => number {
  const { bytes } = samples;
  if (samples.bytesPerSample === 1) return (i) => bytes[i] as number;
  return (i) => (bytes[2 * i] as number) | ((bytes[2 * i + 1] as number) << 8);
}
