/**
 * MONOCHROME1 chest films must come out in display sense: lungs (air) dark, mediastinum / spine
 * (dense) bright; and the output must fall as the stored value rises (inversion applied), while a
 * MONOCHROME2 image rises with it.
 */
import { decodeDicomStored, decodeImage } from '../../../ml/decode';
import { gridMeans, readFixture } from './reference';

function boxMean(grid: number[], r0: number, r1: number, c0: number, c1: number): number {
  let sum = 0;
  let n = 0;
  for (let r = r0; r <= r1; r++)
    for (let c = c0; c <= c1; c++) {
      sum += grid[r * 16 + c] as number;
      n++;
    }
  return sum / n;
}

/** Pearson correlation between stored values and rendered output on a sub-sample. */
function correlation(a: ArrayLike<number>, b: ArrayLike<number>): number {
  let sa = 0,
    sb = 0,
    saa = 0,
    sbb = 0,
    sab = 0,
    n = 0;
  for (let i = 0; i < a.length; i += 97) {
    const x = a[i] as number;
    const y = b[i] as number;
    sa += x;
    sb += y;
    saa += x * x;
    sbb += y * y;
    sab += x * y;
    n++;
  }
  return (sab - (sa * sb) / n) / Math.sqrt((saa - (sa * sa) / n) * (sbb - (sb * sb) / n));
}

const CHESTS = ['01_966_fixed.dcm', '02_RG1_J2KI.dcm', '03_gdcm-CR-MONO1-10-chest.dcm', '04_Monochrome1-Jpeg.dcm', '20_EDGE_CR-MONO1-10-chest_nometa.dcm'];

test.each(CHESTS)('%s (MONOCHROME1): lungs dark, mediastinum bright, output inverted', async (name) => {
  const buf = readFixture(name);
  const img = await decodeImage(buf);
  expect(img.dicom?.photometric).toBe('MONOCHROME1');
  const grid = gridMeans(img.pixels, img.height, img.width);
  const leftLung = boxMean(grid, 4, 8, 3, 5);
  const rightLung = boxMean(grid, 4, 8, 10, 12);
  const mediastinum = boxMean(grid, 4, 8, 7, 8);
  expect(Math.min(leftLung, rightLung)).toBeLessThan(mediastinum - 0.15);
  const { stored } = await decodeDicomStored(buf);
  expect(correlation(stored, img.pixels)).toBeLessThan(-0.9);
});

test('12_RG2_RLE (MONOCHROME2): output rises with the stored value', async () => {
  const buf = readFixture('12_RG2_RLE.dcm');
  const img = await decodeImage(buf);
  const { stored } = await decodeDicomStored(buf);
  expect(img.dicom?.photometric).toBe('MONOCHROME2');
  expect(correlation(stored, img.pixels)).toBeGreaterThan(0.9);
});
