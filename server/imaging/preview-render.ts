/** Pure rendering of a decoded grey image to an 8-bit PNG preview (runs inside the preview worker). */
import { PNG } from 'pngjs';

export const PREVIEW_MAX_SIDE = 1024;

/** Box-filter downscale of grey [0,1] pixels so the longer side is ≤ maxSide; 8-bit grey PNG. */
export function renderPreviewPng(
  pixels: Float32Array,
  width: number,
  height: number,
  maxSide = PREVIEW_MAX_SIDE,
): { png: Uint8Array; width: number; height: number } {
  const scale = Math.min(1, maxSide / Math.max(width, height));
  const w = Math.max(1, Math.round(width * scale));
  const h = Math.max(1, Math.round(height * scale));
  const png = new PNG({ width: w, height: h, colorType: 0, inputColorType: 0, bitDepth: 8, inputHasAlpha: false });
  const out = Buffer.alloc(w * h);
  for (let y = 0; y < h; y++) {
    const y0 = Math.floor((y * height) / h);
    const y1 = Math.max(y0 + 1, Math.floor(((y + 1) * height) / h));
    for (let x = 0; x < w; x++) {
      const x0 = Math.floor((x * width) / w);
      const x1 = Math.max(x0 + 1, Math.floor(((x + 1) * width) / w));
      let sum = 0;
      for (let yy = y0; yy < y1; yy++) {
        const row = yy * width;
        for (let xx = x0; xx < x1; xx++) sum += pixels[row + xx] ?? 0;
      }
      const v = sum / ((y1 - y0) * (x1 - x0));
      out[y * w + x] = Math.max(0, Math.min(255, Math.round(v * 255)));
    }
  }
  png.data = out;
  const encoded = PNG.sync.write(png, { colorType: 0, inputColorType: 0, inputHasAlpha: false, bitDepth: 8 });
  return { png: new Uint8Array(encoded), width: w, height: h }; // own ArrayBuffer: transferable
}
