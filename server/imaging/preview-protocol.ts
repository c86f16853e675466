/** Messages between the preview pool (main thread) and preview-worker (worker thread). */
import type { DicomImageInfo, ImageFormat } from '../../ml/decode';

/** Decode an upload and make its 8-bit preview. */
export interface PreviewRequest {
  readonly kind: 'preview';
  readonly id: number;
  readonly image: Uint8Array;
  readonly maxSide: number;
}

/** Render a study's stored heatmap grid as the viewer's overlay PNG (on its first read). */
export interface OverlayRequest {
  readonly kind: 'overlay';
  readonly id: number;
  readonly cells: Uint8Array;
  readonly width: number;
  readonly height: number;
}

export type PoolRequest = PreviewRequest | OverlayRequest;

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
  | { readonly id: number; readonly type: 'overlay'; readonly png: Uint8Array }
  | { readonly id: number; readonly type: 'error'; readonly error: { name: string; message: string; code?: string } };
