/** Worker thread: decode (ml/decode) → 8-bit preview PNG + DICOM attributes. Never runs on the main loop. */
import { parentPort } from 'node:worker_threads';
import { decodeImage } from '../../ml/decode';
import type { PreviewReply, PreviewRequest } from './preview-protocol';
import { renderPreviewPng } from './preview-render';

const port = parentPort;
if (!port) throw new Error('preview-worker must run in a worker thread');

port.on('message', (req: PreviewRequest) => {
  void (async () => {
    const started = performance.now();
    try {
      const decoded = await decodeImage(req.image);
      const { png } = renderPreviewPng(decoded.pixels, decoded.width, decoded.height, req.maxSide);
      const reply: PreviewReply = {
        id: req.id,
        type: 'result',
        summary: {
          width: decoded.width,
          height: decoded.height,
          format: decoded.format,
          ...(decoded.dicom ? { dicom: decoded.dicom } : {}),
          preview: png,
          decodeMs: performance.now() - started,
        },
      };
      port.postMessage(reply, [png.buffer as ArrayBuffer]);
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
