/**
 * What the screen tours share (screens.test.ts on a desktop, phone.test.ts on a phone): signing in
 * through the login screen with console errors collected, and taking a screen's screenshot after
 * axe-core and the catalogue check (every visible text of the UI language is in its catalogue).
 */
import { existsSync, mkdirSync } from 'node:fs';
import path from 'node:path';
import { chromium, type Browser, type BrowserContext, type BrowserContextOptions, type Page } from 'playwright-core';
import { untranslatedTexts } from './i18n-check';
import { CHROMIUM_ARGS, CHROMIUM_PATH } from '../../support/browser';
import { DEMO_PASSWORD, startTestPlatform, type TestPlatform } from '../../support/platform';

export const repo = path.resolve(__dirname, '../../..');
export const dist = path.join(repo, 'client', 'dist');
export const shots = path.join(repo, 'test-artifacts', 'screenshots');
export const xray = path.join(repo, 'test', 'fixtures', 'cxr', 'tbx11k_tb0020.png');
const axePath = require.resolve('axe-core');

/** The clinic's laptop (what the UI is designed for). */
export const DESKTOP: BrowserContextOptions = { viewport: { width: 1366, height: 768 } };
/** A district doctor's phone: 390×844 CSS pixels, a touch screen, a high-density display. */
export const PHONE: BrowserContextOptions = { viewport: { width: 390, height: 844 }, deviceScaleFactor: 2, isMobile: true, hasTouch: true };

/** A tour's platform (serving the built client) and Chromium, which may play the call's media without a gesture. */
export async function startTour(): Promise<{ tp: TestPlatform; browser: Browser }> {
  if (!existsSync(path.join(dist, 'index.html'))) throw new Error('client/dist is missing: run `npm run build:client` first');
  mkdirSync(shots, { recursive: true });
  const tp = await startTestPlatform({ CLIENT_DIST_DIR: dist });
  try {
    const browser = await chromium.launch({ executablePath: CHROMIUM_PATH, args: [...CHROMIUM_ARGS, '--autoplay-policy=no-user-gesture-required'] });
    return { tp, browser };
  } catch (err) {
    await tp.close();
    throw err;
  }
}

export async function seriousA11y(page: Page): Promise<string[]> {
  if (!(await page.evaluate(() => 'axe' in window))) await page.addScriptTag({ path: axePath });
  return page.evaluate(async () => {
    const axe = (
      window as unknown as { axe: { run: (c: Document) => Promise<{ violations: { id: string; impact: string | null; nodes: { target: string[] }[] }[] }> } }
    ).axe;
    const r = await axe.run(document);
    return r.violations
      .filter((v) => v.impact === 'serious' || v.impact === 'critical')
      .map((v) => `${v.id}: ${v.nodes.map((n) => n.target.join(' ')).join(', ')}`);
  });
}

/**
 * A screenshot function for one tour: each screen is checked with axe-core (no serious or critical
 * violation) and its texts missing from the catalogue go into `untranslated` (screen → texts; the
 * tour asserts it empty at the end, one report for all screens). Screenshots are in CSS pixels.
 */
export function screenshooter(untranslated: Record<string, string[]>) {
  return async function shot(page: Page, name: string, fullPage = false): Promise<void> {
    await page.evaluate(() => window.scrollTo(0, 0));
    await page.waitForTimeout(250);
    expect(await seriousA11y(page)).toEqual([]);
    // Every visible string is in the catalogue of the page's language (names and typed text are data: translate="no").
    const lang = name.endsWith('-en') ? 'en' : 'vi';
    const missing = await untranslatedTexts(page, lang);
    if (missing.length) untranslated[name] = missing;
    await page.screenshot({ path: path.join(shots, `${name}.png`), fullPage, scale: 'css' });
  };
}

export interface SignedIn {
  ctx: BrowserContext;
  page: Page;
  /** Page errors and console errors (a failed request, e.g. a 404, is one); the tours assert none. */
  errors: string[];
}

/** Signs in through the login screen; `atLogin` looks at the login screen first. */
export async function signIn(
  browser: Browser,
  url: string,
  email: string,
  locale: string,
  opts: { device?: BrowserContextOptions; atLogin?: (page: Page) => Promise<void> } = {},
): Promise<SignedIn> {
  const ctx = await browser.newContext({ ...(opts.device ?? DESKTOP), locale, permissions: ['camera', 'microphone'] });
  const page = await ctx.newPage();
  const errors: string[] = [];
  page.on('pageerror', (e) => errors.push(e.message));
  page.on('console', (m) => {
    if (m.type() === 'error') errors.push(`console: ${m.text()} (${m.location().url})`);
  });
  await page.goto(url);
  await page.getByTestId('login-email').waitFor();
  await opts.atLogin?.(page);
  await page.getByTestId('login-email').fill(email);
  await page.getByTestId('login-password').fill(DEMO_PASSWORD);
  await page.getByTestId('login-submit').click();
  await page.getByTestId('app-header').waitFor();
  return { ctx, page, errors };
}
