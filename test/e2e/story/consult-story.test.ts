/**
 * The end-to-end consult story in real Chromium (Debian's, through playwright-core,
 * fake camera and microphone), against the REAL platform serving the built web client.
 *
 *  1. The district doctor signs in and requests a consult for the demo patient with a chest X-ray
 *     (TBX11K PNG); the AI result (triage done, flag raised) appears on the request's page.
 *  2. The specialist (second browser context, English UI) sees the request in the queue (the
 *     queue's AI-flag badge shows the AI result of the attached X-ray) and accepts it; opens the
 *     room and starts the consult. Nobody invites the radiologist.
 *  3. The district doctor enters their own consult without waiting; both see the AI triage of the
 *     X-ray and the EMR summary panel, both join the call and receive each other's media
 *     (inbound-rtp bytes and decoded frames grow; the remote <video> has frames and its currentTime
 *     advances).
 *  4. The specialist writes and signs the report; both doctors see who signed it, when, with
 *     which certificate (issued by the hospital CA) and that every check passed.
 *  5. The radiologist of the central hospital finds the study on the worklist without an invitation
 *     (the consult was accepted by their hospital), confirms the AI flag(s), sees the stats count
 *     them and the study in the "reviewed" view.
 *
 * Every step is driven through the UI, with the catalogue check on each screen (every visible text
 * of the screen's language is in its catalogue) and no console error on any page. The only API call
 * is a read-only check at the end (the reviews are stored as confirmed).
 *
 * Screenshots of every screen: test-artifacts/screenshots/story-<step>.png (git-ignored).
 */
import { cpSync, existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { chromium, type Browser, type BrowserContext, type Locator, type Page } from 'playwright-core';
import type { WorklistResponse } from '../../../contracts/imaging-api';
import { CHROMIUM_ARGS, CHROMIUM_PATH, inboundVideo } from '../../support/browser';
import { untranslatedTexts } from '../client/i18n-check';
import { DEMO_PATIENT_ID } from '../../support/consult-flow';
import { DEMO, DEMO_PASSWORD, startTestPlatform, type TestPlatform } from '../../support/platform';

const repo = path.resolve(__dirname, '../../..');
const dist = path.join(repo, 'client', 'dist');
const shots = path.join(repo, 'test-artifacts', 'screenshots');
const xray = path.join(repo, 'test', 'fixtures', 'cxr', 'tbx11k_tb0021.png');

/**
 * A private copy of the built client, so that a rebuild of client/dist while the story runs (vite
 * empties the folder first) cannot break a page load halfway. Retries until the copy is complete
 * (every asset index.html references is there).
 */
async function snapshotClient(): Promise<string> {
  for (let attempt = 0; ; attempt++) {
    const dir = mkdtempSync(path.join(os.tmpdir(), 'hoichan-story-client-'));
    try {
      cpSync(dist, dir, { recursive: true });
      const html = readFileSync(path.join(dir, 'index.html'), 'utf8');
      const refs = [...html.matchAll(/(?:src|href)="\/?(assets\/[^"]+)"/g)].map((m) => m[1] ?? '');
      if (refs.length > 0 && refs.every((r) => existsSync(path.join(dir, r)))) return dir;
    } catch {
      /* a rebuild is under way: try again */
    }
    rmSync(dir, { recursive: true, force: true });
    if (attempt >= 15) throw new Error(`could not take a complete copy of ${dist}`);
    await new Promise((r) => setTimeout(r, 2_000));
  }
}

interface Session {
  ctx: BrowserContext;
  page: Page;
  errors: string[];
}

/** Step → texts of that screen not in its language's catalogue (asserted empty at the end). */
const untranslated: Record<string, string[]> = {};

/** Screenshot of the viewport (scrolled to the top, or to `focus`) or of the full page, after the catalogue check. */
async function shot(page: Page, step: string, fullPage = false, focus?: Locator): Promise<void> {
  if (focus) await focus.evaluate((el) => el.scrollIntoView({ block: 'center' }));
  else await page.evaluate(() => window.scrollTo(0, 0));
  await page.waitForTimeout(300);
  const lang = (await page.evaluate(() => document.documentElement.lang)) === 'en' ? 'en' : 'vi';
  const missing = await untranslatedTexts(page, lang);
  if (missing.length) untranslated[`${step} (${lang})`] = missing;
  await page.screenshot({ path: path.join(shots, `story-${step}.png`), fullPage });
}

async function openContext(browser: Browser, url: string, locale: string): Promise<Session> {
  const ctx = await browser.newContext({ viewport: { width: 1366, height: 768 }, locale, permissions: ['camera', 'microphone'] });
  const page = await ctx.newPage();
  const errors: string[] = [];
  page.on('pageerror', (e) => errors.push(e.message));
  page.on('console', (m) => {
    if (m.type() === 'error') errors.push(`console: ${m.text()} (${m.location().url})`);
  });
  await page.goto(url);
  await page.getByTestId('login-screen').waitFor();
  return { ctx, page, errors };
}

async function signIn(s: Session, email: string, loginShot?: string): Promise<void> {
  await s.page.getByTestId('login-email').fill(email);
  await s.page.getByTestId('login-password').fill(DEMO_PASSWORD);
  if (loginShot) await shot(s.page, loginShot);
  await s.page.getByTestId('login-submit').click();
  await s.page.getByTestId('app-header').waitFor();
}

/** The best remote <video> element: readyState, size and playback position. */
function remoteVideo(page: Page): Promise<{ readyState: number; width: number; height: number; time: number } | null> {
  return page.evaluate(() => {
    const vids = Array.from(document.querySelectorAll<HTMLVideoElement>('[data-testid="video-remote"]'));
    const best = vids.sort((a, b) => b.videoWidth - a.videoWidth)[0];
    return best ? { readyState: best.readyState, width: best.videoWidth, height: best.videoHeight, time: best.currentTime } : null;
  });
}

async function until<T>(what: string, probe: () => Promise<T>, ok: (v: T) => boolean, timeoutMs = 30_000, stepMs = 500): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  let v = await probe();
  while (!ok(v)) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}; last value ${JSON.stringify(v)}`);
    await new Promise((r) => setTimeout(r, stepMs));
    v = await probe();
  }
  return v;
}

/** Both directions of media: stats grow between two samples and the remote video plays. */
async function expectReceivingMedia(page: Page, who: string): Promise<void> {
  await page.getByTestId('video-remote').first().waitFor({ timeout: 45_000 });
  const first = await until(
    `${who}: inbound video frames`,
    () => inboundVideo(page),
    (v) => v.frames > 5 && v.bytes > 0,
    45_000,
  );
  const v1 = await until(
    `${who}: remote <video> has frames`,
    () => remoteVideo(page),
    (v) => v !== null && v.readyState >= 2 && v.width > 0,
    30_000,
  );
  await page.waitForTimeout(2_000);
  const second = await inboundVideo(page);
  const v2 = await remoteVideo(page);
  expect(second.bytes).toBeGreaterThan(first.bytes);
  expect(second.frames).toBeGreaterThan(first.frames);
  expect(v2).not.toBeNull();
  expect(v2!.time).toBeGreaterThan(v1!.time);
}

describe('consult story: district doctor → specialist → radiologist, in real Chromium', () => {
  let tp: TestPlatform;
  let browser: Browser;
  const sessions: Session[] = [];
  let served = '';

  beforeAll(async () => {
    if (!existsSync(path.join(dist, 'index.html'))) throw new Error('client/dist is missing: build the client first (npm run build:client)');
    mkdirSync(shots, { recursive: true });
    served = await snapshotClient();
    tp = await startTestPlatform({ CLIENT_DIST_DIR: served });
    browser = await chromium.launch({ executablePath: CHROMIUM_PATH, args: [...CHROMIUM_ARGS, '--autoplay-policy=no-user-gesture-required'] });
  });
  afterAll(async () => {
    for (const s of sessions) await s.ctx.close().catch(() => undefined);
    await browser?.close();
    await tp?.close();
    if (served) rmSync(served, { recursive: true, force: true });
  });

  it('request with X-ray → AI flag → queue → accept → room with media and EMR → signed report → radiologist confirms', async () => {
    // 1. District doctor: sign in, new consult with an X-ray for the demo patient.
    const ref = await openContext(browser, tp.url, 'vi-VN');
    sessions.push(ref);
    await signIn(ref, DEMO.referrer, '01-login');
    await ref.page.getByTestId('nav-new-consult').click();
    await ref.page.getByTestId('new-consult-form').waitFor();
    // The picker is a <select> of the doctor's EMR patients once GET /api/emr/patients answers.
    const patientSelect = ref.page.locator('select[data-testid="consult-patient"]');
    await patientSelect.waitFor({ timeout: 30_000 });
    await patientSelect.selectOption(DEMO_PATIENT_ID);
    await ref.page.getByTestId('consult-urgency-urgent').check();
    await ref.page.getByTestId('consult-reason').fill('Ho kéo dài 3 tuần, sốt về chiều, sụt 4 kg.');
    await ref.page.getByTestId('consult-question').fill('Xin ý kiến: nghi lao phổi trên phim X-quang ngực, hướng xử trí tại tuyến huyện?');
    await ref.page.getByTestId('consult-section-imaging').check();
    await ref.page.getByTestId('consult-xray').setInputFiles(xray);
    await shot(ref.page, '02-referrer-new-consult', true);
    await ref.page.getByTestId('consult-submit').click();
    await ref.page.getByTestId('consult-created').waitFor({ timeout: 60_000 });
    const row = ref.page.locator('[data-testid^="consult-row-"]').first();
    const consultId = ((await row.getAttribute('data-testid')) ?? '').replace('consult-row-', '');
    expect(consultId).not.toBe('');
    await shot(ref.page, '03-referrer-my-requests');
    // The AI result of the X-ray: the request's page (the consult room, before anyone accepted)
    // shows the finished triage with its flag. (The new-consult form does not show the scores the
    // upload answered with,)
    await ref.page.getByTestId(`consult-open-${consultId}`).click();
    await ref.page.getByTestId('consult-room').waitFor();
    const refTriage = ref.page.getByTestId('imaging-panel').getByTestId('triage-summary');
    await until(
      'triage done on the request',
      () => refTriage.getAttribute('data-state'),
      (v) => v === 'done',
      60_000,
    );
    await ref.page.getByTestId('imaging-panel').getByTestId('ai-flag-raised').waitFor();
    await ref.page.getByTestId('xray-viewer-canvas').first().waitFor();
    await ref.page.waitForTimeout(1_000);
    await shot(ref.page, '04-referrer-ai-result', false, ref.page.getByTestId('imaging-panel'));
    await ref.page.getByTestId('nav-my-requests').click();
    await ref.page.getByTestId(`consult-row-${consultId}`).waitFor();

    // 2. Specialist: queue shows it with the AI flag; accept; open the room and start.
    const spec = await openContext(browser, tp.url, 'en-GB');
    sessions.push(spec);
    await signIn(spec, DEMO.specialist);
    await spec.page.getByTestId('specialist-queue').waitFor();
    const qrow = spec.page.getByTestId(`queue-row-${consultId}`);
    await qrow.waitFor({ timeout: 30_000 });
    await qrow.getByTestId('urgency-urgent').waitFor();
    await qrow.getByTestId('sla-timer').waitFor();
    // The X-ray was triaged before the request existed: the request takes its AI severity at creation.
    await qrow.getByTestId('ai-flag').waitFor({ timeout: 15_000 });
    await shot(spec.page, '05-specialist-queue');
    await spec.page.getByTestId(`queue-accept-${consultId}`).click();
    await spec.page.getByTestId(`mine-row-${consultId}`).waitFor({ timeout: 30_000 });
    await spec.page.getByTestId(`queue-room-${consultId}`).click();
    await spec.page.getByTestId('consult-room').waitFor();
    await spec.page.getByTestId('room-start').click();
    await spec.page.getByTestId('room-start').waitFor({ state: 'detached', timeout: 15_000 });

    // 3. District doctor enters their own consult: no waiting room, nobody to admit.
    await ref.page.getByTestId(`consult-row-${consultId}`).getByTestId('consult-status').waitFor();
    await ref.page.getByTestId(`consult-open-${consultId}`).click();
    await ref.page.getByTestId('consult-room').waitFor();
    await ref.page.getByTestId('emr-panel').waitFor({ timeout: 30_000 });
    expect(await ref.page.getByTestId('waiting-room').count()).toBe(0);
    expect(await spec.page.locator('[data-testid^="admit-"]').count()).toBe(0);
    for (const s of [spec, ref]) {
      // The AI triage of the X-ray in the room, and the EMR summary panel.
      const triage = s.page.getByTestId('imaging-panel').getByTestId('triage-summary');
      await until(
        'triage done in the room',
        () => triage.getAttribute('data-state'),
        (v) => v === 'done',
        60_000,
      );
      await s.page.getByTestId('imaging-panel').getByTestId('ai-flag-raised').waitFor();
      await s.page.getByTestId('room-tab-record').click();
      await s.page.getByTestId('emr-panel').waitFor({ timeout: 30_000 });
      await expect(s.page.getByTestId('emr-panel').innerText()).resolves.toMatch(/\S/);
    }
    const studyTestId = (await spec.page.locator('[data-testid^="study-"]').first().getAttribute('data-testid')) ?? '';
    const studyId = studyTestId.replace('study-', '');
    expect(studyId).not.toBe('');

    // Both join the call and receive each other's media.
    await spec.page.getByTestId('call-join').click();
    await ref.page.getByTestId('call-join').click();
    await expectReceivingMedia(spec.page, 'specialist');
    await expectReceivingMedia(ref.page, 'district doctor');
    await shot(spec.page, '06-specialist-room');
    await shot(ref.page, '07-referrer-room');

    // 4. The specialist writes and signs the report; the verification badge shows it valid.
    await spec.page.getByTestId('room-tab-report').click();
    await spec.page.getByTestId('report-findings').fill('Thâm nhiễm thùy trên phổi phải, phù hợp lao phổi; AI gắn cờ lao, đồng ý.');
    await spec.page.getByTestId('report-impression').fill('Nghi lao phổi AFB chưa rõ.');
    await spec.page.getByTestId('report-recommendation').fill('GeneXpert MTB/RIF đờm; chuyển chương trình chống lao huyện nếu dương tính.');
    await spec.page.getByTestId('report-sign').click();
    await spec.page.getByTestId('report-signed').waitFor({ timeout: 30_000 });
    await spec.page.getByTestId('report-verified').waitFor({ timeout: 30_000 });
    expect(await spec.page.getByTestId('report-invalid').count()).toBe(0);
    // Signer, time, certificate and every check, in English for the specialist ...
    await expect(spec.page.getByTestId('report-signer').innerText()).resolves.toContain('PGS.TS. Trần Thị Bình');
    await expect(spec.page.getByTestId('report-certificate').innerText()).resolves.toMatch(/Bệnh viện Bạch Mai[\s\S]*Issued by[\s\S]*valid/);
    expect(await spec.page.locator('[data-testid="report-checks"] .check-ok').count()).toBe(4);
    await shot(spec.page, '08-specialist-report-signed');
    // ... and in Vietnamese for the district doctor, who re-verifies it.
    await ref.page.getByTestId('room-tab-report').click();
    await ref.page.getByTestId('report-verified').waitFor({ timeout: 30_000 });
    await expect(ref.page.getByTestId('report-signer').innerText()).resolves.toContain('PGS.TS. Trần Thị Bình');
    await expect(ref.page.getByTestId('report-certificate').innerText()).resolves.toMatch(/Cấp bởi[\s\S]*hiệu lực/);
    await ref.page.getByTestId('report-reverify').click();
    await ref.page.getByTestId('report-verified').waitFor();
    await shot(ref.page, '08b-referrer-report-signed', false, ref.page.getByTestId('report-signature'));

    // 5. Radiologist: nobody invited them; the consult was accepted by their hospital and its X-ray
    // is flagged, so it is on their worklist. The study → confirm every AI flag.
    const rad = await openContext(browser, tp.url, 'vi-VN');
    sessions.push(rad);
    await signIn(rad, DEMO.radiologist);
    await rad.page.getByTestId('worklist').waitFor();
    const item = rad.page.getByTestId(`worklist-item-${studyId}`);
    await item.waitFor({ timeout: 60_000 });
    await item.click();
    await rad.page.getByTestId('worklist-viewer-canvas').waitFor();
    const flagged: string[] = [];
    for (const el of await rad.page.locator('[data-testid="worklist-detail"] .finding-review.finding-flagged').all()) {
      flagged.push(((await el.getAttribute('data-testid')) ?? '').replace('review-', ''));
    }
    expect(flagged.length).toBeGreaterThan(0);
    await rad.page.waitForTimeout(1_000);
    await shot(rad.page, '09-radiologist-worklist');
    for (const [i, finding] of flagged.entries()) {
      await rad.page.getByTestId(`review-comment-${finding}`).fill('Đồng ý với cảnh báo của AI.');
      await rad.page.getByTestId(`review-confirm-${finding}`).click();
      if (i < flagged.length - 1) await rad.page.getByTestId(`review-state-${finding}`).waitFor({ timeout: 15_000 });
    }
    // Once every flag is reviewed the study leaves the (open) worklist.
    await item.waitFor({ state: 'detached', timeout: 15_000 });
    // The agreement stats (fresh database: this is the only reviewed study) count the confirmations:
    // "1/1" (confirmed/flags reviewed, Vietnamese wording) for each confirmed finding.
    await until(
      'stats count the confirmations',
      () => rad.page.getByTestId('triage-stats').innerText(),
      (t) => (t.match(/1\/1/g) ?? []).length === flagged.length,
      15_000,
    );
    await shot(rad.page, '10-radiologist-confirmed');
    // The reviewed view keeps it, with the decisions.
    await rad.page.getByTestId('worklist-view-reviewed').click();
    await rad.page.getByTestId(`worklist-item-${studyId}`).waitFor({ timeout: 15_000 });
    for (const f of flagged) await rad.page.getByTestId(`review-state-${f}`).waitFor();
    await shot(rad.page, '11-radiologist-reviewed');

    // Read-only check through the API: the reviews are stored as confirmed.
    const { accessToken } = await tp.login(DEMO.radiologist);
    const reviewed = await tp.api('GET', '/api/triage/worklist?status=reviewed', { token: accessToken });
    expect(reviewed.status).toBe(200);
    const done = (reviewed.body as WorklistResponse).items.find((i) => i.studyId === studyId);
    expect(done).toBeDefined();
    for (const f of flagged) expect(done!.findings.find((x) => x.finding === f)?.review?.decision).toBe('confirmed');

    expect(untranslated).toEqual({});
    for (const s of sessions) expect(s.errors).toEqual([]);
  });
});
