import { ImageDecodeError } from '../../ml/decode';
import { DomainError } from '../platform/errors';

/** 422: the upload is a PNG/JPEG/DICOM by its bytes but cannot be decoded. `error` is `image_<decoder code>`. */
export class ImageRejectedError extends DomainError {
  constructor(
    readonly decodeCode: string,
    decoderMessage: string,
  ) {
    super(422, `image_${decodeCode}`, `The image could not be read (${decodeCode}): ${decoderMessage}. Nothing was stored.`);
  }

  static from(err: ImageDecodeError): ImageRejectedError {
    return new ImageRejectedError(err.code, err.message);
  }
}

export function isDecodeError(err: unknown): err is ImageDecodeError {
  return err instanceof ImageDecodeError || (err instanceof Error && err.name === 'ImageDecodeError' && typeof (err as { code?: unknown }).code === 'string');
}
