import { PNG } from 'pngjs';
import { heatmapGridOf, overlaySize, quantiseHeatmap, renderHeatmapPng, renderOverlayPng } from '../../../ml/inference/heatmap-png';

describe('overlaySize', () => {
  it('keeps small images at their size and caps large ones preserving aspect', () => {
    expect(overlaySize(200, 150)).toEqual({ width: 200, height: 150 });
    expect(overlaySize(512, 400, 1024)).toEqual({ width: 512, height: 400 });
    expect(overlaySize(2048, 2500, 1024)).toEqual({ width: 839, height: 1024 });
    // Default: 256 px on the longer side (2 px per cell of the 128² heatmap).
    expect(overlaySize(2048, 2500)).toEqual({ width: 210, height: 256 });
    expect(overlaySize(3000, 1000, 600)).toEqual({ width: 600, height: 200 });
  });
});

describe('renderHeatmapPng', () => {
  it('renders an RGBA PNG: transparent at 0, opaque-ish red at 1, yellowish in between', () => {
    const grid = 4;
    const heat = new Float32Array(grid * grid);
    heat[0] = 1; // top-left cell
    heat[grid * grid - 1] = 0.5; // bottom-right cell
    const png = PNG.sync.read(Buffer.from(renderHeatmapPng(heat, { grid, size: { width: 40, height: 20 } })));
    expect([png.width, png.height]).toEqual([40, 20]);
    const px = (x: number, y: number) => Array.from(png.data.subarray((y * 40 + x) * 4, (y * 40 + x) * 4 + 4));
    expect(px(0, 0)).toEqual([255, 0, 0, 204]);
    expect(px(20, 10)[3]).toBe(0);
    const [r, g, b, a] = px(39, 19);
    expect([r, b]).toEqual([255, 0]);
    expect(g).toBeGreaterThan(100);
    expect(a).toBeGreaterThan(80);
    expect(a).toBeLessThan(120);
  });

  it('rejects a heatmap that does not match the grid', () => {
    expect(() => renderHeatmapPng(new Float32Array(10), { grid: 4, size: { width: 4, height: 4 } })).toThrow(RangeError);
  });
});

describe('heatmap grids (what triage stores until an overlay is first read)', () => {
  it('quantises probabilities to round(p · 255), clamping out-of-range and NaN cells', () => {
    const heat = Float32Array.from([0, 0.5, 1, -0.2, 1.7, Number.NaN, 0.002, 0.998, 0.25]);
    expect(Array.from(quantiseHeatmap(heat, 3).cells)).toEqual([0, 128, 255, 0, 255, 0, 1, 254, 64]);
    expect(() => quantiseHeatmap(heat, 4)).toThrow(RangeError);
  });

  it('reads a stored grid back only when it is square', () => {
    expect(heatmapGridOf(new Uint8Array(16)).grid).toBe(4);
    expect(() => heatmapGridOf(new Uint8Array(15))).toThrow(RangeError);
    expect(() => heatmapGridOf(new Uint8Array(0))).toThrow(RangeError);
  });

  it('renders the overlay from a grid as from its probabilities, at the capped image size, within one quantisation step', () => {
    const grid = 8;
    const heat = Float32Array.from({ length: grid * grid }, (_, i) => ((i * 37) % 64) / 63);
    const fromGrid = PNG.sync.read(Buffer.from(renderOverlayPng(quantiseHeatmap(heat, grid), 1000, 500)));
    const direct = PNG.sync.read(Buffer.from(renderHeatmapPng(heat, { grid, size: overlaySize(1000, 500) })));
    expect([fromGrid.width, fromGrid.height]).toEqual([256, 128]);
    expect([direct.width, direct.height]).toEqual([256, 128]);
    let maxDiff = 0;
    for (let i = 0; i < direct.data.length; i++) maxDiff = Math.max(maxDiff, Math.abs(direct.data[i]! - fromGrid.data[i]!));
    expect(maxDiff).toBeLessThanOrEqual(1);
  });
});
