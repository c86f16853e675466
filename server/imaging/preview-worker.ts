/**
 * Worker thread: decode (ml/decode) → 8-bit preview PNG + DICOM attributes, and heatmap overlay
 * PNGs on their first read. Never runs on the main loop.
 */
import { parentPort } from 'node:worker_threads';
import { decodeImage } from '../../ml/decode';
import { heatmapGridOf, renderOverlayPng } from '../../ml/inference/heatmap-png';
import type { DecodedImageSummary, PoolRequest, PreviewReply, PreviewRequest } from './preview-protocol';
import { renderPreviewPng } from './preview-render';

const port = parentPort;
if (!port) throw new Error('preview-worker must run in a worker thread');

async function preview(req: PreviewRequest): Promise<DecodedImageSummary> {
  const started = performance.now();
  const decoded = await decodeImage(req.image);
  const { png } = renderPreviewPng(decoded.pixels, decoded.width, decoded.height, req.maxSide);
  return {
    width: decoded.width,
    height: decoded.height,
    format: decoded.format,
    ...(decoded.dicom ? { dicom: decoded.dicom } : {}),
    preview: png,
    decodeMs: performance.now() - started,
  };
}

port.on('message', (req: PoolRequest) => {
  void (async () => {
    try {
      if (req.kind === 'overlay') {
        const png = renderOverlayPng(heatmapGridOf(req.cells), req.width, req.height);
        port.postMessage({ id: req.id, type: 'overlay', png } satisfies PreviewReply, [png.buffer as ArrayBuffer]);
      } else {
        const summary = await preview(req);
        port.postMessage({ id: req.id, type: 'result', summary } satisfies PreviewReply, [summary.preview.buffer as ArrayBuffer]);
      }
    } catch (err) {
      const e = err as { name?: string; message?: string; code?: unknown };
      const reply: PreviewReply = {
        id: req.id,
        type: 'error',
        // eslint-disable-next-line @typescript-eslint/no-unnecessary-condition -- runtime input: anything can be thrown in the worker
        error: { name: e?.name ?? 'Error', message: e?.message ?? String(err), ...(typeof e?.code === 'string' ? { code: e.code } : {}) },
      };
      port.postMessage(reply);
    }
  })();
});
port.postMessage({ type: 'ready' } satisfies PreviewReply);
