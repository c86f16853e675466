import { boxToImage, extractBoxes, HEATMAP_GRID, isFlagged, MAX_BOXES } from '../../../ml/inference/postprocess';

const G = HEATMAP_GRID;

function heatmap(cells: Record<string, number>, grid = G): Float32Array {
  const map = new Float32Array(grid * grid);
  for (const [key, value] of Object.entries(cells)) {
    const [r, c] = key.split(',').map(Number) as [number, number];
    map[r * grid + c] = value;
  }
  return map;
}

describe('extractBoxes', () => {
  it('finds nothing in an empty map', () => {
    expect(extractBoxes(new Float32Array(G * G), { threshold: 0.5 })).toEqual([]);
  });

  it('joins diagonal neighbours (8-connectivity) and boxes the component in 512 space', () => {
    const boxes = extractBoxes(heatmap({ '10,20': 0.6, '11,21': 0.9, '12,22': 0.55, '12,23': 0.7 }), { threshold: 0.5 });
    expect(boxes).toHaveLength(1);
    expect(boxes[0]).toEqual({ x_min: 80, y_min: 40, x_max: 96, y_max: 52, score: Math.fround(0.9) });
  });

  it('keeps components that only touch at a gap apart', () => {
    const boxes = extractBoxes(heatmap({ '0,0': 0.8, '0,1': 0.8, '0,3': 0.9, '1,3': 0.6 }), { threshold: 0.5 });
    expect(boxes.map((b) => [b.x_min, b.x_max])).toEqual([
      [12, 16],
      [0, 8],
    ]);
  });

  it('drops single-cell components below threshold + 0.1 and keeps stronger ones', () => {
    const boxes = extractBoxes(heatmap({ '5,5': 0.55, '50,50': 0.65, '100,100': 0.59999 }), { threshold: 0.5 });
    expect(boxes).toEqual([{ x_min: 200, y_min: 200, x_max: 204, y_max: 204, score: Math.fround(0.65) }]);
  });

  it('keeps a weak component when it has more than one cell', () => {
    expect(extractBoxes(heatmap({ '5,5': 0.51, '5,6': 0.52 }), { threshold: 0.5 })).toHaveLength(1);
  });

  it('compares cells against the float32 threshold, like numpy on a float32 map', () => {
    // 0.7 is not representable: fround(0.7) < 0.7, and a float32 cell equal to it must pass.
    const cell = Math.fround(0.7);
    expect(cell).toBeLessThan(0.7);
    expect(extractBoxes(heatmap({ '1,1': cell, '1,2': cell }), { threshold: 0.7 })).toHaveLength(1);
  });

  it('clips to the edges of the grid', () => {
    const boxes = extractBoxes(heatmap({ [`${G - 1},${G - 1}`]: 0.95, [`${G - 1},${G - 2}`]: 0.9 }), { threshold: 0.5 });
    expect(boxes).toEqual([{ x_min: 504, y_min: 508, x_max: 512, y_max: 512, score: Math.fround(0.95) }]);
  });

  it('sorts by score, keeps raster order on ties and caps at 10 boxes', () => {
    const cells: Record<string, number> = {};
    // 12 two-cell components on separate rows: rows 0 and 1 tie at the top, then 0.6 + k/100.
    for (let k = 0; k < 12; k++) {
      const score = k < 2 ? 0.95 : 0.6 + k / 100;
      cells[`${k * 3},10`] = score;
      cells[`${k * 3},11`] = score;
    }
    const boxes = extractBoxes(heatmap(cells), { threshold: 0.5 });
    expect(boxes).toHaveLength(MAX_BOXES);
    expect(boxes.map((b) => b.y_min)).toEqual([0, 12, 132, 120, 108, 96, 84, 72, 60, 48]);
    const scores = boxes.map((b) => b.score);
    expect([...scores].sort((a, b) => b - a)).toEqual(scores);
  });

  it('honours custom grid, stride and maxBoxes', () => {
    const boxes = extractBoxes(heatmap({ '0,0': 1, '0,1': 1, '3,3': 0.9, '3,2': 0.9 }, 4), { threshold: 0.5, grid: 4, stride: 8, maxBoxes: 1 });
    expect(boxes).toEqual([{ x_min: 0, y_min: 0, x_max: 16, y_max: 8, score: 1 }]);
  });

  it('rejects a map of the wrong size', () => {
    expect(() => extractBoxes(new Float32Array(10), { threshold: 0.5 })).toThrow(RangeError);
  });
});

describe('boxToImage', () => {
  it('scales x by W/512 and y by H/512', () => {
    const box = { x_min: 128, y_min: 256, x_max: 512, y_max: 260, score: 0.9 };
    expect(boxToImage(box, 2048, 1024)).toEqual({ x_min: 512, y_min: 512, x_max: 2048, y_max: 520, score: 0.9 });
    expect(boxToImage(box, 300, 700)).toEqual({ x_min: 75, y_min: 350, x_max: 300, y_max: (260 * 700) / 512, score: 0.9 });
  });

  it('is the identity at 512×512', () => {
    const box = { x_min: 4, y_min: 8, x_max: 12, y_max: 16, score: 0.5 };
    expect(boxToImage(box, 512, 512)).toEqual(box);
  });
});

describe('isFlagged', () => {
  it('flags at or above the threshold', () => {
    expect(isFlagged(0.5, 0.5)).toBe(true);
    expect(isFlagged(0.4999, 0.5)).toBe(false);
  });
});
