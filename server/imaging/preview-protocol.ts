/** Messages between the preview pool (main thread) and preview-worker (worker thread). */
import type { DicomImageInfo, ImageFormat } from '../../ml/decode';

export interface PreviewRequest {
  readonly id: number;
  readonly image: Uint8Array;
  readonly maxSide: number;
}

export interface DecodedImageSummary {
  readonly width: number;
  readonly height: number;
  readonly format: ImageFormat;
  readonly dicom?: DicomImageInfo;
  readonly preview: Uint8Array;
  readonly decodeMs: number;
}

export type PreviewReply =
  | { readonly type: 'ready' }
  | { readonly id: number; readonly type: 'result'; readonly summary: DecodedImageSummary }
  | { readonly id: number; readonly type: 'error'; readonly error: { name: string; message: string; code?: string } };
