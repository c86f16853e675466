/** 8-bit lossy JPEG (DICOM .50, 8-bit .51, and plain .jpg files) through @cornerstonejs/codec-libjpeg-turbo-8bit. */
import { type CodecOutput, type EmscriptenDecoder, type EmscriptenFactory, LazyCodecModule, runEmscriptenDecode } from './emscripten';

interface LibJpegTurboModule {
  JPEGDecoder: new () => EmscriptenDecoder;
}

const libjpegTurbo = new LazyCodecModule<LibJpegTurboModule>(
  'libjpeg-turbo',
  () =>
    // eslint-disable-next-line @typescript-eslint/no-require-imports -- lazy: the (CommonJS, wasm) codec is loaded only when a study needs it
    require('@cornerstonejs/codec-libjpeg-turbo-8bit/decodewasmjs') as EmscriptenFactory<LibJpegTurboModule>,
);

/** Decodes an 8-bit DCT JPEG; colour (YCbCr) images come back as interleaved RGB. */
export async function decodeJpegBaseline(jpeg: Uint8Array): Promise<CodecOutput> {
  const mod = await libjpegTurbo.get();
  return runEmscriptenDecode('libjpeg-turbo', libjpegTurbo, () => new mod.JPEGDecoder(), jpeg);
}
