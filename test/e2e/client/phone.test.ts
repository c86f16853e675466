/**
 * The district doctor on a phone (390×844 CSS pixels, touch), in real Chromium with a fake camera:
 * sign-in, their patients, a patient's record, the new-consult form, their requests, and the consult
 * room with a live call (the specialist on a desktop) and the AI-flagged X-ray. On each screen:
 * nothing wider than the screen (no sideways scrolling, and the page is not zoomed out to fit), the
 * key controls visible inside the screen's width and at least 44 px to tap, AI boxes on the image;
 * axe-core, the catalogue check and a screenshot (test-artifacts/screenshots/phone-*.png) as in the
 * desktop tour (screens.test.ts). No console errors.
 */
import { readFileSync } from 'node:fs';
import path from 'node:path';
import type { Browser, Locator, Page } from 'playwright-core';
import type { ImagingStudyView } from '../../../contracts/imaging-api';
import { inboundVideo } from '../../support/browser';
import { findDemoPatient, loginParty, requestConsult, transition } from '../../support/consult-flow';
import { DEMO, type TestPlatform } from '../../support/platform';
import { PHONE, screenshooter, signIn, startTour, xray } from './tour';

const untranslated: Record<string, string[]> = {};
const shot = screenshooter(untranslated);
const WIDTH = PHONE.viewport ? PHONE.viewport.width : 0;

/** No sideways scrolling: the document is exactly as wide as the screen, and the phone did not zoom out to fit something wider. */
async function expectFitsWidth(page: Page, screen: string): Promise<void> {
  const m = await page.evaluate(() => {
    const vw = window.innerWidth;
    const wider =
      document.documentElement.scrollWidth > vw
        ? Array.from(document.querySelectorAll<HTMLElement>('body *'))
            .filter((el) => el.getBoundingClientRect().right > vw + 0.5)
            .slice(0, 8)
            .map((el) => `${el.tagName.toLowerCase()}.${el.className} (${Math.round(el.getBoundingClientRect().right)} px)`)
        : [];
    return { scrollWidth: document.documentElement.scrollWidth, innerWidth: vw, wider };
  });
  expect({ screen, ...m }).toEqual({ screen, scrollWidth: WIDTH, innerWidth: WIDTH, wider: [] });
}

/** Visible, inside the screen's width once scrolled to, and (`tap`) at least 44×44 CSS px. */
async function expectOnScreen(control: Locator, opts: { tap?: boolean } = {}): Promise<void> {
  await control.scrollIntoViewIfNeeded();
  expect(await control.isVisible()).toBe(true);
  const box = await control.boundingBox();
  expect(box).not.toBeNull();
  if (!box) return;
  expect(box.x).toBeGreaterThanOrEqual(0);
  expect(box.x + box.width).toBeLessThanOrEqual(WIDTH + 0.5);
  expect(box.width).toBeGreaterThan(0);
  if (opts.tap) {
    expect(box.height).toBeGreaterThanOrEqual(44);
    expect(box.width).toBeGreaterThanOrEqual(44);
  }
}

/** "x,y,w,h" (CSS px, XrayViewer's data-rect) → numbers. */
function rect(attr: string | null): { x: number; y: number; w: number; h: number } {
  const [x = NaN, y = NaN, w = NaN, h = NaN] = (attr ?? '').split(',').map(Number);
  return { x, y, w, h };
}

describe('the district doctor on a phone (390×844, touch)', () => {
  let tp: TestPlatform;
  let browser: Browser;

  beforeAll(async () => {
    ({ tp, browser } = await startTour());
  });
  afterAll(async () => {
    await browser?.close();
    await tp?.close();
  });

  it('patients, record, new consult, requests and a consult room with a live call fit the phone', async () => {
    // A consult with the X-ray, triaged, accepted and started by the specialist (through the API: the desktop tour covers doing it on screen).
    const referrer = await loginParty(tp, DEMO.referrer);
    const specialist = await loginParty(tp, DEMO.specialist);
    const patientId = await findDemoPatient(tp, referrer);
    const form = new FormData();
    form.append('patientId', patientId);
    form.append('file', new Blob([new Uint8Array(readFileSync(xray))], { type: 'image/png' }), path.basename(xray));
    const up = await fetch(`${tp.url}/api/imaging/studies`, { method: 'POST', headers: { authorization: `Bearer ${referrer.token}` }, body: form });
    expect(up.status).toBe(201);
    const studyId = ((await up.json()) as ImagingStudyView).id;
    let study: ImagingStudyView | undefined;
    for (const until = Date.now() + 60_000; Date.now() < until; await new Promise((r) => setTimeout(r, 500))) {
      study = (await tp.api('GET', `/api/imaging/studies/${studyId}`, { token: referrer.token })).body as ImagingStudyView;
      if (study.triage.state !== 'queued' && study.triage.state !== 'running') break;
    }
    expect(study?.triage.state).toBe('done');
    expect(study?.triage.lesions?.length ?? 0).toBeGreaterThan(0);
    const consultId = (await requestConsult(tp, referrer, patientId, { imagingStudyIds: [studyId] })).id;
    await transition(tp, specialist, consultId, 'accept', 'accepted');
    await transition(tp, specialist, consultId, 'start', 'in_progress');

    // Sign-in.
    const phone = await signIn(browser, tp.url, DEMO.referrer, 'vi-VN', {
      device: PHONE,
      atLogin: async (page) => {
        await expectFitsWidth(page, 'login');
        await expectOnScreen(page.getByTestId('login-submit'), { tap: true });
        await shot(page, 'phone-00-login-vi');
      },
    });
    const page = phone.page;

    // Patients: a card per patient, both of its buttons on screen; the navigation fits in one row of tap targets.
    await page.getByTestId('my-patients').waitFor();
    await page.getByTestId(`patient-row-${patientId}`).waitFor();
    await expectFitsWidth(page, 'patients');
    for (const id of ['nav-patients', 'nav-new-consult', 'nav-my-requests', 'logout', 'lang-en', 'patients-new-consult'])
      await expectOnScreen(page.getByTestId(id), { tap: true });
    const navTops = await Promise.all(['nav-patients', 'nav-new-consult', 'nav-my-requests'].map(async (id) => (await page.getByTestId(id).boundingBox())?.y));
    expect(new Set(navTops).size).toBe(1);
    await expectOnScreen(page.getByTestId(`patient-open-${patientId}`), { tap: true });
    await expectOnScreen(page.getByTestId(`patient-consult-${patientId}`), { tap: true });
    await shot(page, 'phone-01-patients-vi');

    // The record.
    await page.getByTestId(`patient-open-${patientId}`).tap();
    await page.getByTestId('record-view').waitFor();
    await page.getByTestId('record-section-imaging').getByTestId('record-ai-results').waitFor({ timeout: 30_000 });
    await expectFitsWidth(page, 'record');
    await expectOnScreen(page.getByTestId('patient-banner'));
    await expectOnScreen(page.getByTestId('record-new-consult'), { tap: true });
    await shot(page, 'phone-02-record-vi', true);

    // The new-consult form, filled in with an X-ray chosen (not sent: the consult above is the one the call uses).
    await page.getByTestId('record-new-consult').tap();
    await page.getByTestId('new-consult-form').waitFor();
    await page.locator('select[data-testid="consult-patient"]').waitFor({ timeout: 30_000 });
    await expect(page.getByTestId('consult-patient').inputValue()).resolves.toBe(patientId);
    await page.getByTestId('consult-urgency-urgent').tap();
    await page.getByTestId('consult-reason').fill('Ho kéo dài 3 tuần, sốt về chiều, sụt 4 kg.');
    await page.getByTestId('consult-question').fill('Xin ý kiến chẩn đoán lao phổi.');
    await page.getByTestId('consult-xray').setInputFiles(xray);
    await expectFitsWidth(page, 'new consult');
    for (const id of ['consult-patient', 'consult-specialty', 'consult-preferred-time', 'consult-reason', 'consult-question'])
      await expectOnScreen(page.getByTestId(id), { tap: true });
    for (const u of ['routine', 'urgent', 'emergency']) await expectOnScreen(page.locator(`label:has([data-testid="consult-urgency-${u}"])`), { tap: true });
    await expectOnScreen(page.locator('label:has([data-testid="consult-section-encounters"])'), { tap: true });
    await expectOnScreen(page.getByTestId('consult-submit'), { tap: true });
    expect(await page.getByTestId('consult-submit').isEnabled()).toBe(true);
    await shot(page, 'phone-03-new-consult-vi', true);

    // The doctor's requests: the consult's card with the button into its room.
    await page.getByTestId('nav-my-requests').tap();
    await page.getByTestId(`consult-row-${consultId}`).waitFor();
    await expectFitsWidth(page, 'requests');
    await expectOnScreen(page.getByTestId(`consult-open-${consultId}`), { tap: true });
    await shot(page, 'phone-04-my-requests-vi');

    // The specialist (on a desktop) is in the call.
    const spec = await signIn(browser, tp.url, DEMO.specialist, 'en-GB');
    await spec.page.goto(`${tp.url}/consults/${consultId}`);
    await spec.page.getByTestId('consult-room').waitFor();
    await spec.page.getByTestId('call-join').click();
    await spec.page.locator('[data-testid="video-grid"][data-call-state="joined"]').waitFor({ timeout: 30_000 });

    // The consult room on the phone: join with a tap; the specialist's video arrives and takes the width.
    await page.getByTestId(`consult-open-${consultId}`).tap();
    await page.getByTestId('consult-room').waitFor();
    await page.getByTestId('emr-panel').waitFor({ timeout: 30_000 });
    await expectOnScreen(page.getByTestId('call-join'), { tap: true });
    await page.getByTestId('call-join').tap();
    await page.getByTestId('video-remote').first().waitFor({ timeout: 30_000 });
    let got = await inboundVideo(page);
    for (const until = Date.now() + 30_000; got.frames <= 10 && Date.now() < until; got = await inboundVideo(page)) await page.waitForTimeout(500);
    expect(got.frames).toBeGreaterThan(10);
    await expectFitsWidth(page, 'room');
    const remote = page.getByTestId('video-remote').first();
    await expectOnScreen(remote);
    const remoteBox = await remote.boundingBox();
    expect(remoteBox?.width ?? 0).toBeGreaterThan(WIDTH * 0.75);
    // Decoded at the size it is shown: the video element has a picture.
    await expect(remote.evaluate((v: HTMLVideoElement) => v.videoWidth)).resolves.toBeGreaterThan(0);
    await expectOnScreen(page.getByTestId('video-self'));
    for (const id of ['call-mute', 'call-camera', 'call-leave']) await expectOnScreen(page.getByTestId(id), { tap: true });
    // For the screenshot: the quality indicator's first reading (not asserted: a busy machine may read it as poor).
    await page
      .locator('[data-testid="connection-quality"][data-quality="good"]')
      .waitFor({ timeout: 10_000 })
      .catch(() => undefined);
    await shot(page, 'phone-05-room-call-vi');

    // The X-ray viewer takes the width; the AI boxes are drawn on the image (original pixels × the displayed scale).
    const canvas = page.getByTestId('xray-viewer-canvas');
    await expectOnScreen(canvas);
    const boxes = page.getByTestId('xray-viewer-boxes');
    await page.waitForFunction(() => (document.querySelector('[data-testid="xray-viewer-boxes"]')?.getAttribute('data-image-rect') ?? '') !== '');
    const stage = await canvas.boundingBox();
    const image = rect(await boxes.getAttribute('data-image-rect'));
    expect(stage).not.toBeNull();
    if (stage) {
      // The image fits the stage's width (and so the screen's), filling it one way.
      expect(image.x).toBeGreaterThanOrEqual(-0.5);
      expect(image.x + image.w).toBeLessThanOrEqual(stage.width + 0.5);
      expect(image.y + image.h).toBeLessThanOrEqual(stage.height + 0.5);
      expect(Math.max(image.w / stage.width, image.h / stage.height)).toBeCloseTo(1, 2);
      expect(image.w / Number(await boxes.getAttribute('data-image-width'))).toBeCloseTo(image.h / Number(await boxes.getAttribute('data-image-height')), 3);
    }
    const lesions = study?.triage.lesions ?? [];
    const shown = await boxes.locator('li[data-kind="ai"]').evaluateAll((els) => els.map((el) => el.getAttribute('data-rect')));
    expect(shown).toHaveLength(lesions.length);
    const k = image.w / Number(await boxes.getAttribute('data-image-width'));
    lesions.forEach((l, i) => {
      const r = rect(shown[i] ?? null);
      expect(r.x).toBeCloseTo(image.x + l.x_min * k, 0);
      expect(r.y).toBeCloseTo(image.y + l.y_min * k, 0);
      expect(r.w).toBeCloseTo((l.x_max - l.x_min) * k, 0);
      expect(r.x + r.w).toBeLessThanOrEqual(image.x + image.w + 0.5);
    });
    for (const id of ['viewer-tool-pan', 'viewer-zoom-in', 'viewer-reset', 'viewer-heatmap', 'viewer-window', 'viewer-level'])
      await expectOnScreen(page.getByTestId(id), { tap: true });
    await expectFitsWidth(page, 'room, X-ray');

    // The side panel below: its tabs are tap targets; the chat fits.
    for (const tab of ['record', 'chat', 'notes', 'report']) await expectOnScreen(page.getByTestId(`room-tab-${tab}`), { tap: true });
    await page.getByTestId('room-tab-chat').tap();
    await page.getByTestId('chat-input').fill('Chào PGS, tôi đang ở trạm y tế, gọi bằng điện thoại.');
    await expectOnScreen(page.getByTestId('chat-send'), { tap: true });
    await page.getByTestId('chat-send').tap();
    await page.getByTestId('chat-message').first().waitFor();
    await expectFitsWidth(page, 'room, chat');
    await shot(page, 'phone-06-room-vi', true);

    expect(untranslated).toEqual({});
    for (const s of [phone, spec]) {
      expect(s.errors).toEqual([]);
      await s.ctx.close();
    }
  });
});
