/** A large, non-square chest X-ray for the coordinate tests, made from a CXR fixture. */
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { PNG } from 'pngjs';

const repo = path.resolve(__dirname, '../../..');
export const W = 2000;
export const H = 2128;

/** tbx11k_tb0020.png (512², TB lesions) stretched to W × H (nearest neighbour), 8-bit grey PNG. */
export function largeNonSquareChest(): Buffer {
  const src = PNG.sync.read(readFileSync(path.join(repo, 'test', 'fixtures', 'cxr', 'tbx11k_tb0020.png')));
  const data = Buffer.alloc(W * H);
  const xs = new Int32Array(W);
  for (let x = 0; x < W; x++) xs[x] = Math.floor((x * src.width) / W) * 4;
  for (let y = 0; y < H; y++) {
    const row = Math.floor((y * src.height) / H) * src.width * 4;
    for (let x = 0; x < W; x++) data[y * W + x] = src.data[row + xs[x]!]!;
  }
  const out = new PNG({ width: W, height: H, colorType: 0, inputColorType: 0, bitDepth: 8, inputHasAlpha: false });
  out.data = data;
  return PNG.sync.write(out, { colorType: 0, inputColorType: 0, bitDepth: 8, inputHasAlpha: false });
}
