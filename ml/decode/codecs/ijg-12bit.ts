/**
 * 12-bit lossy JPEG (DICOM .51, JPEG Extended process 4) through dcmjs-codecs' NativeCodecs: a
 * WebAssembly build of the IJG libjpeg 8/12/16-bit codecs of DCMTK, the same decoder family as
 * DCMTK's `dcmdjpeg`, against which it is checked (test/unit/decode/jpeg-12bit.test.ts). libjpeg-turbo
 * (our 8-bit path) has no 12-bit build on npm. Grey only: that is what CR/DX systems write.
 */
import path from 'node:path';
import { ImageDecodeError, describeThrown } from '../errors';
import type { CodecOutput } from './emscripten';

interface NativeContext {
  getDecodedBuffer(): Uint8Array;
}
interface DcmjsCodecs {
  NativeCodecs: {
    initializeAsync(opts?: { webAssemblyModulePathOrUrl?: string; logCodecsInfo?: boolean; logCodecsTrace?: boolean }): Promise<void>;
    isInitialized(): boolean;
    decodeJpeg(context: NativeContext, parameters?: Record<string, unknown>): NativeContext;
  };
  Context: new (attrs: Record<string, unknown>) => NativeContext;
}

let loading: Promise<DcmjsCodecs> | undefined;

function codecs(): Promise<DcmjsCodecs> {
  loading ??= (async () => {
    // eslint-disable-next-line @typescript-eslint/no-require-imports -- lazy: the (CommonJS, wasm) codec is loaded only when a study needs it
    const mod = require('dcmjs-codecs') as DcmjsCodecs;
    if (!mod.NativeCodecs.isInitialized()) {
      const wasm = path.join(path.dirname(require.resolve('dcmjs-codecs')), 'dcmjs-native-codecs.wasm');
      await mod.NativeCodecs.initializeAsync({ webAssemblyModulePathOrUrl: wasm, logCodecsInfo: false, logCodecsTrace: false });
    }
    return mod;
  })().catch((err: unknown) => {
    loading = undefined;
    throw err;
  });
  return loading;
}

export interface Jpeg12Frame {
  width: number;
  height: number;
  /** 9–12 (the SOF precision). */
  precision: number;
  components: number;
  photometric: string;
}

/** Decodes a 9–12-bit DCT JPEG frame to little-endian 16-bit samples. */
export async function decodeJpeg12(jpeg: Uint8Array, frame: Jpeg12Frame): Promise<CodecOutput> {
  if (frame.components !== 1) throw new ImageDecodeError('unsupported_transfer_syntax', `${frame.precision}-bit colour JPEG is not supported (grey only)`);
  const mod = await codecs();
  let decoded: Uint8Array;
  try {
    const ctx = new mod.Context({
      width: frame.width,
      height: frame.height,
      bitsAllocated: 16,
      bitsStored: frame.precision,
      samplesPerPixel: 1,
      pixelRepresentation: 0,
      planarConfiguration: 0,
      photometricInterpretation: frame.photometric,
      encodedBuffer: jpeg,
    });
    decoded = mod.NativeCodecs.decodeJpeg(ctx, {}).getDecodedBuffer();
  } catch (err) {
    throw new ImageDecodeError('corrupt', `12-bit JPEG stream could not be decoded: ${describeThrown(err)}`, { cause: err });
  }
  return {
    frameInfo: { width: frame.width, height: frame.height, bitsPerSample: frame.precision, componentCount: 1, isSigned: false },
    bytes: new Uint8Array(decoded),
  };
}
