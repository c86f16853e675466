/** Machine-readable reason an input could not be decoded. */
export type ImageDecodeErrorCode =
  'empty' | 'too_large' | 'unsupported_format' | 'corrupt' | 'no_pixel_data' | 'truncated' | 'dimensions' | 'unsupported_transfer_syntax';

/**
 * The only error type the decode layer throws for bad input. Parser and codec exceptions are
 * wrapped (the original is kept as `cause`), so callers can map `code` to a user-facing message.
 */
export class ImageDecodeError extends Error {
  readonly code: ImageDecodeErrorCode;

  constructor(code: ImageDecodeErrorCode, message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = 'ImageDecodeError';
    this.code = code;
  }
}

/** Renders an unknown thrown value (dicom-parser throws strings and plain objects) as text. */
export function describeThrown(err: unknown): string {
  if (err instanceof Error) return err.message;
  if (typeof err === 'string') return err;
  if (typeof err === 'object' && err !== null && 'exception' in err) {
    const inner = err.exception;
    return typeof inner === 'string' ? inner : String(inner);
  }
  return String(err);
}
