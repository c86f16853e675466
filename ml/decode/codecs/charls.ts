/** JPEG-LS (DICOM .80 / .81) through @cornerstonejs/codec-charls (CharLS compiled to WASM). */
import { ImageDecodeError } from '../errors';
import { type CodecOutput, type EmscriptenDecoder, type EmscriptenFactory, LazyCodecModule, runEmscriptenDecode } from './emscripten';

interface JpegLsDecoder extends EmscriptenDecoder {
  /** 0 = none (colour-by-plane), 1 = line, 2 = sample (pixel interleaved). */
  getInterleaveMode(): number;
}

interface CharlsModule {
  JpegLSDecoder: new () => JpegLsDecoder;
}

const charls = new LazyCodecModule<CharlsModule>(
  'CharLS',
  () =>
    // eslint-disable-next-line @typescript-eslint/no-require-imports -- lazy: the (CommonJS, wasm) codec is loaded only when a study needs it
    require('@cornerstonejs/codec-charls/decodewasmjs') as EmscriptenFactory<CharlsModule>,
);

export async function decodeJpegLs(jpegLs: Uint8Array): Promise<CodecOutput> {
  const mod = await charls.get();
  return runEmscriptenDecode(
    'CharLS',
    charls,
    () => new mod.JpegLSDecoder(),
    jpegLs,
    (decoder, output) => {
      if (output.frameInfo.componentCount === 1) return output;
      const mode = decoder.getInterleaveMode();
      if (mode === 1) throw new ImageDecodeError('unsupported_transfer_syntax', 'line-interleaved colour JPEG-LS is not supported');
      return { ...output, planar: mode === 0 };
    },
  );
}
