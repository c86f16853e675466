import { mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { PNG } from 'pngjs';
import { renderPreviewPng } from '../../../server/imaging/preview-render';
import { ImagingStorage, sha256Hex } from '../../../server/imaging/storage';

let dir: string;
beforeEach(() => {
  dir = mkdtempSync(path.join(os.tmpdir(), 'imaging-storage-'));
});
afterEach(() => rmSync(dir, { recursive: true, force: true }));

test('originals are content-addressed, written once, and nothing stays in tmp/', async () => {
  const s = new ImagingStorage(dir);
  await s.init();
  const data = new Uint8Array([1, 2, 3]);
  const sha = sha256Hex(data);
  const first = await s.putOriginal(data, sha);
  expect(first).toEqual({ relPath: `originals/${sha.slice(0, 2)}/${sha}`, created: true });
  expect(await s.putOriginal(data, sha)).toEqual({ relPath: first.relPath, created: false });
  expect([...readFileSync(path.join(dir, 'imaging', first.relPath))]).toEqual([1, 2, 3]);
  expect(readdirSync(path.join(dir, 'imaging', 'tmp'))).toEqual([]);
  await s.removeStudyFiles('study-1', first);
  expect(await s.exists(first.relPath)).toBe(false);
});

test('init() clears half-written files left by a crash', async () => {
  const s = new ImagingStorage(dir);
  await s.init();
  const { writeFileSync } = await import('node:fs');
  writeFileSync(path.join(dir, 'imaging', 'tmp', 'x.part'), 'half');
  await s.init();
  expect(readdirSync(path.join(dir, 'imaging', 'tmp'))).toEqual([]);
});

test('paths cannot leave the store', () => {
  const s = new ImagingStorage(dir);
  expect(() => s.resolve('../../etc/passwd')).toThrow();
  expect(() => s.derivedPath('../x', 'preview.png')).toThrow();
  expect(() => s.originalPath('not-a-hash')).toThrow();
});

test('preview: longer side ≤ 1024, aspect kept, 8-bit grey', () => {
  const w = 2000;
  const h = 1500;
  const pixels = new Float32Array(w * h);
  for (let i = 0; i < pixels.length; i++) pixels[i] = (i % w) / w;
  const out = renderPreviewPng(pixels, w, h);
  expect(out.width).toBe(1024);
  expect(out.height).toBe(768);
  const png = PNG.sync.read(Buffer.from(out.png));
  expect(png.width).toBe(1024);
  expect(png.data[0]).toBeLessThan(5); // left edge dark
  expect(png.data[1023 * 4]).toBeGreaterThan(250); // right edge bright
  const small = renderPreviewPng(new Float32Array(100 * 50).fill(0.5), 100, 50);
  expect([small.width, small.height]).toEqual([100, 50]);
});
