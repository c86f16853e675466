/**
 * Shared plumbing for the @cornerstonejs Emscripten codecs (OpenJPEG, libjpeg-turbo, CharLS).
 * Each package's `decodewasmjs` entry exports a factory returning a promise of the module; in Node
 * the factory finds its .wasm next to the script (scriptDirectory = __dirname), so no locateFile
 * is needed. Modules are instantiated lazily, once per thread (they are the only module state).
 */
import { ImageDecodeError, describeThrown } from '../errors';

export interface CodecFrameInfo {
  width: number;
  height: number;
  bitsPerSample: number;
  componentCount: number;
  isSigned: boolean;
}

/** The embind decoder classes share this shape. */
export interface EmscriptenDecoder {
  /** Returns a view into WASM memory of the given size to copy the encoded bytes into. */
  getEncodedBuffer(length: number): Uint8Array;
  /** Returns a view into WASM memory holding the decoded samples (valid until the next call). */
  getDecodedBuffer(): Uint8Array;
  decode(): void;
  getFrameInfo(): CodecFrameInfo;
  delete(): void;
}

export type EmscriptenFactory<M> = (moduleArg?: Record<string, unknown>) => Promise<M>;

/** Decoded samples copied out of WASM memory plus the codec's view of the frame. */
export interface CodecOutput {
  frameInfo: CodecFrameInfo;
  /** Little-endian samples; 1 byte per sample if bitsPerSample ≤ 8, else 2. */
  bytes: Uint8Array;
  /** Colour samples are colour-by-plane (RRR…GGG…BBB…) rather than interleaved (RGBRGB…). */
  planar?: boolean;
}

/**
 * OpenJPEG logs every header/tile to stdout through Emscripten's print; keep worker output clean.
 * A fresh object per instantiation: Emscripten uses (and mutates) it as the Module object.
 */
function quietModuleArgs(): Record<string, unknown> {
  return { print: () => undefined, printErr: () => undefined };
}

/** Lazily instantiates an Emscripten module; forgets it after a failure so the next call retries. */
export class LazyCodecModule<M> {
  private pending: Promise<M> | undefined;

  constructor(
    private readonly name: string,
    private readonly load: () => EmscriptenFactory<M>,
  ) {}

  get(): Promise<M> {
    if (!this.pending) {
      this.pending = (async () => this.load()(quietModuleArgs()))().catch((err: unknown) => {
        this.pending = undefined;
        throw new ImageDecodeError('corrupt', `${this.name} codec failed to initialise: ${describeThrown(err)}`, { cause: err });
      });
    }
    return this.pending;
  }

  /** Drops the instance, e.g. after a WebAssembly trap left its memory in an unknown state. */
  reset(): void {
    this.pending = undefined;
  }
}

/**
 * Runs one decode on a fresh decoder instance: copy in, decode, copy out, always delete.
 * Codec exceptions (C++ exceptions surface as numbers or Errors) become ImageDecodeError('corrupt').
 */
export function runEmscriptenDecode<D extends EmscriptenDecoder>(
  codecName: string,
  lazy: { reset(): void },
  createDecoder: () => D,
  encoded: Uint8Array,
  afterDecode?: (decoder: D, output: CodecOutput) => CodecOutput,
): CodecOutput {
  let decoder: D | undefined;
  try {
    decoder = createDecoder();
    decoder.getEncodedBuffer(encoded.length).set(encoded);
    decoder.decode();
    const frameInfo = { ...decoder.getFrameInfo() };
    const view = decoder.getDecodedBuffer();
    const bytes = new Uint8Array(view.length);
    bytes.set(view);
    const output: CodecOutput = { frameInfo, bytes };
    return afterDecode ? afterDecode(decoder, output) : output;
  } catch (err) {
    if (err instanceof ImageDecodeError) throw err;
    if (err instanceof WebAssembly.RuntimeError) lazy.reset();
    // Emscripten surfaces C++ exceptions as a bare number (a pointer into WASM memory).
    const detail = typeof err === 'number' ? 'native decoder exception' : describeThrown(err);
    throw new ImageDecodeError('corrupt', `${codecName} could not decode the image: ${detail}`, { cause: err });
  } finally {
    try {
      decoder?.delete();
    } catch {
      lazy.reset();
    }
  }
}
