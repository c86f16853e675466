/** JPEG 2000 (DICOM .90 / .91) through @cornerstonejs/codec-openjpeg (OpenJPEG compiled to WASM). */
import { type CodecOutput, type EmscriptenDecoder, type EmscriptenFactory, LazyCodecModule, runEmscriptenDecode } from './emscripten';

interface OpenJpegModule {
  J2KDecoder: new () => EmscriptenDecoder;
}

const openjpeg = new LazyCodecModule<OpenJpegModule>(
  'OpenJPEG',
  () =>
    // eslint-disable-next-line @typescript-eslint/no-require-imports -- lazy: the (CommonJS, wasm) codec is loaded only when a study needs it
    require('@cornerstonejs/codec-openjpeg/decodewasmjs') as EmscriptenFactory<OpenJpegModule>,
);

export async function decodeJpeg2000(codestream: Uint8Array): Promise<CodecOutput> {
  const mod = await openjpeg.get();
  return runEmscriptenDecode('OpenJPEG', openjpeg, () => new mod.J2KDecoder(), codestream);
}
