/**
 * Offline-first consult request: the district doctor's Chromium runs in a network namespace ("the
 * clinic", lab.ts) and reaches the hospital's server over the lab bridge. The doctor fills a new
 * consult with an X-ray, the clinic's link goes down (`ip link set … down`), the doctor submits →
 * 'Chờ gửi' (kept in IndexedDB); the page is reloaded while offline and opens from the service
 * worker's shell with the request still there; the link comes back → 'Đang gửi' → 'Đã gửi'. The
 * first consult POST after the link returns reaches the server but its answer is lost (the test
 * drops it), so the sender must resend with the same Idempotency-Key: the server ends with exactly
 * one consult, with the X-ray attached.
 * Without root (no network namespaces) the same story runs with Chromium's offline emulation.
 *
 * Needs the built client (client/dist) and FerretDB (jest's global setup).
 */
import { existsSync } from 'node:fs';
import path from 'node:path';
import type { Page } from 'playwright-core';
import { launchChromium, type TestBrowser } from '../../support/browser';
import { DEMO, DEMO_PASSWORD, startTestPlatform, type TestPlatform } from '../../support/platform';
import { untranslatedTexts } from '../client/i18n-check';
import { seriousA11y } from '../client/tour';
import { labUnavailableReason, NetLab } from './lab';

const repo = path.resolve(__dirname, '../../..');
const dist = path.join(repo, 'client', 'dist');
const xray = path.join(repo, 'test', 'fixtures', 'cxr', 'tbx11k_tb0020.png');
const REASON = 'Ho kéo dài 3 tuần, sốt về chiều — gửi khi phòng khám mất mạng.';
const REFUSED_REASON = 'Đau ngực — yêu cầu mà máy chủ sẽ từ chối.';

const noLab = labUnavailableReason();
if (noLab) process.stderr.write(`[offline-consult] no network lab (${noLab}): the link is cut with Chromium's offline emulation instead\n`);

/** The outbox entries' states as the page shows them. */
/** Opens the new-consult form for the first patient in the picker (returned) and fills in the reason and question. */
async function startConsultForm(page: Page, baseUrl: string, reason: string, question: string): Promise<string | null> {
  await page.goto(`${baseUrl}/consults/new`);
  const picker = page.locator('select[data-testid="consult-patient"]');
  await picker.waitFor({ timeout: 30_000 });
  const patientId = await picker.locator('option:not([value=""])').first().getAttribute('value');
  await picker.selectOption(patientId);
  await page.getByTestId('consult-reason').fill(reason);
  await page.getByTestId('consult-question').fill(question);
  return patientId;
}

const outboxStates = (page: Page) => page.locator('[data-testid="outbox-entry"]').evaluateAll((els) => els.map((el) => el.getAttribute('data-state')));

describe('offline-first consult request (service worker + IndexedDB outbox, real Chromium)', () => {
  let lab: NetLab | undefined;
  let tp: TestPlatform;
  let browser: TestBrowser;
  let page: Page;

  /** Cuts (false) or restores (true) the clinic's link. */
  const link = async (up: boolean) => {
    if (lab) lab.link('clinic', up);
    else await browser.context.setOffline(!up);
  };

  beforeAll(async () => {
    if (!existsSync(path.join(dist, 'sw.js'))) throw new Error('client/dist (with sw.js) is missing: run `npm run build:client` first');
    if (!noLab) {
      lab = NetLab.create();
      lab.addHost('clinic');
    }
    tp = await startTestPlatform({ CLIENT_DIST_DIR: dist, ...(lab ? { HOST: lab.gatewayIp } : {}) });
    // A plain-http origin other than localhost is not a secure context (no service worker); production serves HTTPS.
    browser = await launchChromium(
      [`--unsafely-treat-insecure-origin-as-secure=${tp.url}`, '--lang=vi-VN'],
      lab ? { executablePath: lab.chromiumIn('clinic') } : {},
    );
    page = await browser.context.newPage();
    page.on('pageerror', (err) => process.stderr.write(`[page] ${err.message}\n`));
  });

  afterAll(async () => {
    await browser?.close();
    await tp?.close();
    await lab?.close();
  });

  test('the service worker is served as JavaScript without a long cache', async () => {
    const res = await fetch(`${tp.url}/sw.js`);
    expect(res.status).toBe(200);
    expect(res.headers.get('content-type')).toMatch(/^(text|application)\/javascript/);
    expect(res.headers.get('cache-control')).toBe('no-cache');
  });

  test('submitted while the link is down: kept, survives an offline reload, sent once when the link returns', async () => {
    await page.goto(tp.url);
    await page.evaluate(() => window.localStorage.setItem('hoichan.lang', 'vi'));
    await page.reload();
    await page.getByTestId('login-email').fill(DEMO.referrer);
    await page.getByTestId('login-password').fill(DEMO_PASSWORD);
    await page.getByTestId('login-submit').click();
    await page.getByTestId('app-header').waitFor();
    // The service worker is active (the shell cached) and controls the page.
    await page.waitForFunction(async () => !!(await navigator.serviceWorker.ready).active && !!navigator.serviceWorker.controller, undefined, {
      timeout: 30_000,
    });

    const patientId = await startConsultForm(page, tp.url, REASON, 'Xin ý kiến chẩn đoán lao phổi.');
    expect(patientId).toBeTruthy();
    await page.getByTestId('consult-urgency-urgent').check();
    await page.getByTestId('consult-xray').setInputFiles(xray);

    const referrer = await tp.login(DEMO.referrer);
    const consultsOnServer = async () => {
      const res = await tp.api('GET', '/api/consults', { token: referrer.accessToken });
      expect(res.status).toBe(200);
      return (res.body as { id: string; reason: string; imagingStudyIds: string[] }[]).filter((c) => c.reason === REASON);
    };

    // The clinic's link goes down; the doctor submits.
    await link(false);
    const onLine = await page.evaluate(() => navigator.onLine);
    process.stdout.write(`[offline-consult] navigator.onLine after the link went down: ${onLine}\n`);
    await page.getByTestId('consult-submit').click();
    await page.getByTestId('consult-queued').waitFor({ timeout: 90_000 });
    await page.locator('[data-testid="outbox-entry"][data-state="queued"]').waitFor({ timeout: 90_000 });
    expect(await page.locator('[data-testid="outbox-entry"] [data-testid="outbox-state"]').innerText()).toBe('Chờ gửi');
    expect(await untranslatedTexts(page, 'vi')).toEqual([]);

    // Reloaded while offline: the service worker serves the shell; the request is still there.
    await page.reload({ timeout: 60_000 });
    await page.locator('[data-testid="outbox-entry"]').waitFor({ timeout: 60_000 });
    expect(await page.evaluate(() => !!navigator.serviceWorker.controller)).toBe(true);
    expect(await outboxStates(page)).toEqual([expect.stringMatching(/^(queued|sending)$/)]);
    expect(await consultsOnServer()).toEqual([]);

    // Every state the page shows from now on.
    await page.evaluate(() => {
      const seen: string[] = [];
      (window as unknown as { outboxSeen: string[] }).outboxSeen = seen;
      const record = () => {
        for (const el of document.querySelectorAll('[data-testid="outbox-entry"]')) {
          const s = el.getAttribute('data-state') ?? '';
          if (seen[seen.length - 1] !== s) seen.push(s);
        }
      };
      record();
      new MutationObserver(record).observe(document.body, { subtree: true, childList: true, attributes: true, attributeFilter: ['data-state'] });
    });

    // The first consult POST after the link returns reaches the server, but its answer is lost.
    let posts = 0;
    let lostAnswerStatus = 0;
    await page.route('**/api/consults', async (route) => {
      if (route.request().method() !== 'POST') return route.continue();
      posts++;
      if (posts > 1) return route.continue();
      const answer = await route.fetch();
      lostAnswerStatus = answer.status();
      return route.abort('connectionreset');
    });

    await link(true);
    await page.locator('[data-testid="outbox-entry"][data-state="sent"]').waitFor({ timeout: 180_000 });
    expect(await page.locator('[data-testid="outbox-entry"] [data-testid="outbox-state"]').innerText()).toBe('Đã gửi');
    expect(await page.getByTestId('consult-queued').count()).toBe(0);
    expect(await untranslatedTexts(page, 'vi')).toEqual([]);
    const seen = await page.evaluate(() => (window as unknown as { outboxSeen: string[] }).outboxSeen);
    expect(seen).toContain('sending');
    expect(seen[seen.length - 1]).toBe('sent');

    // The lost answer was a created consult; the resend with the same key got it replayed, not a second one.
    expect(lostAnswerStatus).toBe(201);
    expect(posts).toBeGreaterThanOrEqual(2);
    const created = await consultsOnServer();
    expect(created).toHaveLength(1);
    expect(created[0]!.imagingStudyIds).toHaveLength(1);
    const study = await tp.api('GET', `/api/imaging/studies/${encodeURIComponent(created[0]!.imagingStudyIds[0]!)}`, { token: referrer.accessToken });
    expect(study.status).toBe(200);
    // The consult list shows it, and the outbox entry links to it.
    await page.getByTestId(`consult-row-${created[0]!.id}`).waitFor({ timeout: 30_000 });

    // Nothing is lost or resent on a later reload either.
    await page.reload();
    await page.locator('[data-testid="outbox-entry"][data-state="sent"]').waitFor({ timeout: 30_000 });
    expect(await consultsOnServer()).toHaveLength(1);
  });

  test('a request the server refuses (4xx) is marked not accepted with its message and is not retried', async () => {
    await page.unrouteAll();
    await startConsultForm(page, tp.url, REFUSED_REASON, 'Xin ý kiến.');
    await link(false);
    await page.getByTestId('consult-submit').click();
    const entry = page.locator('[data-testid="outbox-entry"]', { hasText: REFUSED_REASON });
    await entry.and(page.locator('[data-state="queued"]')).waitFor({ timeout: 90_000 });

    let posts = 0;
    await page.route('**/api/consults', async (route) => {
      if (route.request().method() !== 'POST') return route.continue();
      posts++;
      return route.fulfill({
        status: 422,
        contentType: 'application/json',
        body: JSON.stringify({ error: 'invalid_input', message: 'Bệnh nhân không thuộc nhóm điều trị' }),
      });
    });
    await link(true);
    await entry.and(page.locator('[data-state="failed"]')).waitFor({ timeout: 120_000 });
    expect(await entry.getByTestId('outbox-state').innerText()).toBe('Không được chấp nhận');
    expect(await entry.getByTestId('outbox-error').innerText()).toContain('Bệnh nhân không thuộc nhóm điều trị');
    expect(await untranslatedTexts(page, 'vi')).toEqual([]);
    expect(await seriousA11y(page)).toEqual([]);
    // Longer than the sender's timer and the first backoffs: no blind retry.
    await page.waitForTimeout(12_000);
    expect(posts).toBe(1);
    await entry.getByTestId('outbox-dismiss').click();
    await entry.waitFor({ state: 'detached' });
    await page.unrouteAll();
  });

  test('without IndexedDB (a locked-down profile) the form still sends the request straight away', async () => {
    const reason = 'Khó thở — trình duyệt không có IndexedDB.';
    const bare = await browser.context.newPage();
    try {
      await bare.addInitScript(() => Object.defineProperty(window, 'indexedDB', { value: undefined }));
      await bare.goto(tp.url);
      expect(await bare.evaluate(() => typeof (window as { indexedDB?: unknown }).indexedDB)).toBe('undefined');
      await bare.getByTestId('login-email').fill(DEMO.referrer);
      await bare.getByTestId('login-password').fill(DEMO_PASSWORD);
      await bare.getByTestId('login-submit').click();
      await bare.getByTestId('app-header').waitFor();
      await startConsultForm(bare, tp.url, reason, 'Xin ý kiến.');
      await bare.getByTestId('consult-xray').setInputFiles(xray);
      await bare.getByTestId('consult-submit').click();
      await bare.getByTestId('consult-created').waitFor({ timeout: 60_000 });
      const referrer = await tp.login(DEMO.referrer);
      const res = await tp.api('GET', '/api/consults', { token: referrer.accessToken });
      const mine = (res.body as { reason: string; imagingStudyIds: string[] }[]).filter((c) => c.reason === reason);
      expect(mine).toHaveLength(1);
      expect(mine[0]!.imagingStudyIds).toHaveLength(1);
    } finally {
      await bare.close();
    }
  });
});
