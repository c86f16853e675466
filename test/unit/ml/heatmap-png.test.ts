import { PNG } from 'pngjs';
import { overlaySize, renderHeatmapPng } from '../../../ml/inference/heatmap-png';

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
