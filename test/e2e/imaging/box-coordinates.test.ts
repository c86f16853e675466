/**
 * One coordinate contract, end to end, on a large non-square image (2000 × 2128, W × H, bigger
 * than the ≤ 1024 px preview the viewer shows): upload → API (boxes in original pixels, inside the
 * image) → the viewer in real Chromium (every AI box drawn over the image where original pixels put
 * it, read from the viewer's DOM box list) → the radiologist drags a corrected box → the stored
 * review box is that drag in ORIGINAL pixels. Also: heatmap "Tắt" (off) restores the exact canvas.
 */
import { existsSync } from 'node:fs';
import path from 'node:path';
import { chromium, type Browser, type Page } from 'playwright-core';
import { PNG } from 'pngjs';
import type { ImagingStudyView } from '../../../contracts/imaging-api';
import { CHROMIUM_ARGS, CHROMIUM_PATH } from '../../support/browser';
import { DEMO, DEMO_PASSWORD, startTestPlatform, type TestPlatform } from '../../support/platform';
import { H, largeNonSquareChest, W } from './large-image';

const repo = path.resolve(__dirname, '../../..');
const dist = path.join(repo, 'client', 'dist');
const DEMO_PATIENT = 'pat-demo-hoa';

type Rect = { x: number; y: number; w: number; h: number };
const parseRect = (s: string | null): Rect => {
  const [x, y, w, h] = (s ?? '').split(',').map(Number);
  return { x: x!, y: y!, w: w!, h: h! };
};

async function canvasPixels(page: Page): Promise<string> {
  return page.getByTestId('worklist-viewer-canvas').evaluate((c) => (c as HTMLCanvasElement).toDataURL('image/png'));
}

describe('box coordinates from model to viewer to the radiologist correction', () => {
  let tp: TestPlatform;
  let browser: Browser;

  beforeAll(async () => {
    if (!existsSync(path.join(dist, 'index.html'))) throw new Error('client/dist is missing: run `npm run build:client` first');
    tp = await startTestPlatform({ CLIENT_DIST_DIR: dist });
    browser = await chromium.launch({ executablePath: CHROMIUM_PATH, args: CHROMIUM_ARGS });
  });
  afterAll(async () => {
    await browser?.close();
    await tp?.close();
  });

  it('draws the AI boxes on the lesion and stores a corrected box in original pixels', async () => {
    const big = largeNonSquareChest();
    const referrer = (await tp.login(DEMO.referrer)).accessToken;
    const radiologist = (await tp.login(DEMO.radiologist)).accessToken;
    const form = new FormData();
    form.append('patientId', DEMO_PATIENT);
    form.append('file', new Blob([new Uint8Array(big)]), 'large.png');
    const up = await fetch(`${tp.url}/api/imaging/studies`, { method: 'POST', headers: { authorization: `Bearer ${referrer}` }, body: form });
    const study = (await up.json()) as ImagingStudyView;
    expect(up.status).toBe(201);
    expect({ width: study.width, height: study.height, state: study.triage.state }).toEqual({ width: W, height: H, state: 'done' });
    const lesions = study.triage.lesions ?? [];
    expect(lesions.length).toBeGreaterThan(0);
    for (const l of lesions) {
      expect(l.x_min).toBeGreaterThanOrEqual(0);
      expect(l.y_min).toBeGreaterThanOrEqual(0);
      expect(l.x_max).toBeLessThanOrEqual(W);
      expect(l.y_max).toBeLessThanOrEqual(H);
    }
    // The preview is smaller than the original: exactly the case where pixel spaces can be mixed up.
    const preview = PNG.sync.read(
      Buffer.from(await (await fetch(`${tp.url}${study.previewUrl}`, { headers: { authorization: `Bearer ${referrer}` } })).arrayBuffer()),
    );
    expect(Math.max(preview.width, preview.height)).toBeLessThanOrEqual(1024);
    const bg = await tp.api('POST', '/api/emr/break-glass', {
      token: radiologist,
      body: { patientId: DEMO_PATIENT, reason: 'Urgent read of a flagged chest X-ray for the district clinic' },
    });
    expect(bg.status).toBeLessThan(300);

    const ctx = await browser.newContext({ viewport: { width: 1366, height: 900 }, locale: 'vi-VN' });
    const page = await ctx.newPage();
    const errors: string[] = [];
    page.on('pageerror', (e) => errors.push(e.message));
    await page.goto(tp.url);
    await page.getByTestId('login-email').fill(DEMO.radiologist);
    await page.getByTestId('login-password').fill(DEMO_PASSWORD);
    await page.getByTestId('login-submit').click();
    await page.getByTestId('worklist').waitFor();
    await page.getByTestId(`worklist-item-${study.id}`).click();
    const list = page.getByTestId('worklist-viewer-boxes');
    await page.waitForFunction(() => (document.querySelector('[data-testid="worklist-viewer-boxes"]')?.getAttribute('data-image-rect') ?? '') !== '');
    await page.waitForTimeout(300);

    // The image on screen: the original's aspect, and every AI box inside it, where original pixels put it.
    expect(await list.getAttribute('data-image-width')).toBe(String(W));
    expect(await list.getAttribute('data-image-height')).toBe(String(H));
    const img = parseRect(await list.getAttribute('data-image-rect'));
    const k = img.w / W;
    expect(img.h / H).toBeCloseTo(k, 3);
    const items = list.locator('li[data-kind="ai"]');
    expect(await items.count()).toBe(lesions.length);
    for (let i = 0; i < lesions.length; i++) {
      const l = lesions[i]!;
      const r = parseRect(await items.nth(i).getAttribute('data-rect'));
      expect(r.x).toBeCloseTo(img.x + l.x_min * k, 0);
      expect(r.y).toBeCloseTo(img.y + l.y_min * k, 0);
      expect(r.w).toBeCloseTo((l.x_max - l.x_min) * k, 0);
      expect(r.x).toBeGreaterThanOrEqual(img.x - 0.5);
      expect(r.y).toBeGreaterThanOrEqual(img.y - 0.5);
      expect(r.x + r.w).toBeLessThanOrEqual(img.x + img.w + 0.5);
      expect(r.y + r.h).toBeLessThanOrEqual(img.y + img.h + 0.5);
    }

    // The image itself is drawn over exactly that rectangle: grey pixels up to its far corner, the
    // stage background beside it (a preview drawn at its own size would stop at about half way).
    await page.getByTestId('viewer-boxes').uncheck();
    const px = (x: number, y: number) =>
      page
        .getByTestId('worklist-viewer-canvas')
        .evaluate(
          (c, [x, y]) =>
            Array.from(
              (c as HTMLCanvasElement).getContext('2d')!.getImageData(Math.round(x! * devicePixelRatio), Math.round(y! * devicePixelRatio), 1, 1).data,
            ),
          [x, y],
        );
    const isGrey = (p: number[]) => p[0] === p[1] && p[1] === p[2];
    for (const [fx, fy] of [
      [0.02, 0.02],
      [0.98, 0.98],
      [0.5, 0.5],
      [0.98, 0.02],
      [0.02, 0.98],
    ])
      expect({ fx, fy, grey: isGrey(await px(img.x + img.w * fx!, img.y + img.h * fy!)) }).toEqual({ fx, fy, grey: true });
    if (img.x > 4) expect(isGrey(await px(img.x - 3, img.y + img.h / 2))).toBe(false);
    await page.getByTestId('viewer-boxes').check();

    // Heatmap on, then "Tắt" (off): the canvas is exactly what it was before.
    const before = await canvasPixels(page);
    await page.getByTestId('viewer-heatmap').selectOption('tb');
    await page.waitForFunction(
      (b) => (document.querySelector('[data-testid="worklist-viewer-canvas"]') as HTMLCanvasElement).toDataURL('image/png') !== b,
      before,
      { timeout: 10_000 },
    );
    await page.getByTestId('viewer-heatmap').selectOption('');
    await page.waitForTimeout(300);
    expect(await canvasPixels(page)).toBe(before);

    // Drag a box from 25 % to 50 % of the image each way; confirm the TB call with it.
    const canvas = await page.getByTestId('worklist-viewer-canvas').boundingBox();
    expect(canvas).not.toBeNull();
    const target = page.locator('.study-detail-side select');
    if (await target.count()) await target.first().selectOption('tb');
    await page.getByTestId('viewer-tool-box').click();
    await page.mouse.move(canvas!.x + img.x + img.w * 0.25, canvas!.y + img.y + img.h * 0.25);
    await page.mouse.down();
    await page.mouse.move(canvas!.x + img.x + img.w * 0.5, canvas!.y + img.y + img.h * 0.5, { steps: 8 });
    await page.mouse.up();
    const drawn = parseRect(await list.locator('li[data-kind="radiologist"]').first().getAttribute('data-rect'));
    expect(Math.abs(drawn.x - (img.x + img.w * 0.25))).toBeLessThanOrEqual(2);
    expect(Math.abs(drawn.y + drawn.h - (img.y + img.h * 0.5))).toBeLessThanOrEqual(2);
    await page.getByTestId('review-confirm-tb').click();
    // The reviewed study may leave the "open" list at once: read the stored review from the API.
    let review: NonNullable<ImagingStudyView['triage']['findings']>[number]['review'];
    for (let i = 0; i < 60 && !review; i++) {
      const stored = await tp.api('GET', `/api/imaging/studies/${study.id}`, { token: radiologist });
      review = (stored.body as ImagingStudyView).triage.findings?.find((f) => f.finding === 'tb')?.review;
      if (!review) await page.waitForTimeout(250);
    }
    expect(review?.boxes).toHaveLength(1);
    const b = review!.boxes[0]!;
    // Original pixels (a click lands within a screen pixel: 1/k ≈ 5 original pixels).
    const tol = 2 / k;
    expect(Math.abs(b.x_min - 0.25 * W)).toBeLessThanOrEqual(tol);
    expect(Math.abs(b.y_min - 0.25 * H)).toBeLessThanOrEqual(tol);
    expect(Math.abs(b.x_max - 0.5 * W)).toBeLessThanOrEqual(tol);
    expect(Math.abs(b.y_max - 0.5 * H)).toBeLessThanOrEqual(tol);
    expect(errors).toEqual([]);
    await ctx.close();
  });
});
