/**
 * Browser smoke test of the web client: the real platform serving client/dist, Debian's Chromium
 * through playwright-core. Logs in as the administrator, verifies the audit chain from the admin
 * screen, switches the language vi ↔ en, runs axe-core, and saves screenshots.
 * Build the client first: `npm run build:client`.
 */
import { existsSync, mkdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { chromium, type Browser, type Page } from 'playwright-core';
import { CHROMIUM_ARGS, CHROMIUM_PATH } from '../../support/browser';
import { DEMO, DEMO_PASSWORD, startTestPlatform, type TestPlatform } from '../../support/platform';

const repo = path.resolve(__dirname, '../../..');
const dist = path.join(repo, 'client', 'dist');
const shots = path.join(repo, 'test-artifacts', 'screenshots');
const axePath = require.resolve('axe-core');

interface AxeViolation {
  id: string;
  impact: string | null;
  help: string;
  nodes: { target: string[] }[];
}

async function axeSeriousViolations(page: Page): Promise<AxeViolation[]> {
  const hasAxe = await page.evaluate(() => typeof (window as unknown as { axe?: unknown }).axe !== 'undefined');
  if (!hasAxe) await page.addScriptTag({ path: axePath });
  const violations = await page.evaluate(async () => {
    const axe = (window as unknown as { axe: { run: (ctx: Document, opts: object) => Promise<{ violations: AxeViolation[] }> } }).axe;
    const result = await axe.run(document, { resultTypes: ['violations'] });
    return result.violations.map((v) => ({ id: v.id, impact: v.impact, help: v.help, nodes: v.nodes.map((n) => ({ target: n.target })) }));
  });
  return violations.filter((v) => v.impact === 'serious' || v.impact === 'critical');
}

async function login(page: Page, url: string, email: string): Promise<void> {
  await page.goto(url);
  await page.getByTestId('login-email').fill(email);
  await page.getByTestId('login-password').fill(DEMO_PASSWORD);
  await page.getByTestId('login-submit').click();
  await page.getByTestId('app-header').waitFor();
}

describe('web client: login, admin audit verification, languages, accessibility', () => {
  let tp: TestPlatform;
  let browser: Browser;

  beforeAll(async () => {
    if (!existsSync(path.join(dist, 'index.html'))) throw new Error('client/dist is missing: run `npm run build:client` first');
    mkdirSync(shots, { recursive: true });
    tp = await startTestPlatform({ CLIENT_DIST_DIR: dist });
    browser = await chromium.launch({ executablePath: CHROMIUM_PATH, args: CHROMIUM_ARGS });
  });

  afterAll(async () => {
    await browser?.close();
    await tp?.close();
  });

  it('serves the SPA for deep links and keeps /api JSON', async () => {
    const res = await fetch(`${tp.url}/admin/audit`);
    expect(res.status).toBe(200);
    expect(await res.text()).toContain('<div id="root">');
    const api = await fetch(`${tp.url}/api/nope`);
    expect(api.status).toBe(404);
    expect(await api.json()).toMatchObject({ error: 'not_found' });
  });

  it('admin logs in, verifies the audit chain, switches language, passes axe', async () => {
    const context = await browser.newContext({ viewport: { width: 1366, height: 768 }, locale: 'vi-VN' });
    const page = await context.newPage();
    const errors: string[] = [];
    page.on('pageerror', (e) => errors.push(e.message));

    await page.goto(tp.url);
    await page.getByTestId('login-screen').waitFor();
    // Vietnamese browser → Vietnamese by default.
    expect(await page.locator('html').getAttribute('lang')).toBe('vi');
    await expect(page.getByTestId('login-submit').textContent()).resolves.toBe('Đăng nhập');
    expect(await axeSeriousViolations(page)).toEqual([]);
    await page.screenshot({ path: path.join(shots, 'login-vi.png') });

    // Wrong password → an error, still on the login screen.
    await page.getByTestId('login-email').fill(DEMO.admin);
    await page.getByTestId('login-password').fill('not-the-password');
    await page.getByTestId('login-submit').click();
    await page.getByTestId('login-error').waitFor();

    await login(page, tp.url, DEMO.admin);
    await expect(page.getByTestId('header-role').textContent()).resolves.toBe('Quản trị viên');
    await expect(page.getByTestId('header-facility').textContent()).resolves.toBe('Bệnh viện Bạch Mai');
    await page.getByTestId('admin-users').waitFor();
    await page.getByTestId(`user-row-${DEMO.referrer}`).waitFor();
    expect(await axeSeriousViolations(page)).toEqual([]);
    await page.screenshot({ path: path.join(shots, 'admin-users-vi.png') });

    await page.getByTestId('nav-admin-facilities').click();
    await page.getByTestId('facility-row-fac-mocchau').waitFor();
    expect(await axeSeriousViolations(page)).toEqual([]);
    await page.screenshot({ path: path.join(shots, 'admin-facilities-vi.png') });

    await page.getByTestId('nav-admin-audit').click();
    await page.getByTestId('audit-verify').click();
    const result = page.getByTestId('audit-result');
    await result.waitFor();
    expect(await result.getAttribute('data-ok')).toBe('true');
    await expect(result.textContent()).resolves.toContain('Chuỗi kiểm toán toàn vẹn');
    expect(await axeSeriousViolations(page)).toEqual([]);
    await page.screenshot({ path: path.join(shots, 'admin-audit-vi.png'), fullPage: true });

    // Switch to English; the choice survives a reload.
    await page.getByTestId('lang-en').click();
    expect(await page.locator('html').getAttribute('lang')).toBe('en');
    await expect(result.textContent()).resolves.toContain('Audit chain intact');
    await expect(page.getByTestId('header-role').textContent()).resolves.toBe('Administrator');
    await page.reload();
    await page.getByTestId('admin-audit').waitFor();
    expect(await page.locator('html').getAttribute('lang')).toBe('en');
    await expect(page.getByTestId('nav-admin-audit').textContent()).resolves.toBe('Audit log');
    expect(await axeSeriousViolations(page)).toEqual([]);
    await page.getByTestId('audit-verify').click();
    await page.getByTestId('audit-result').waitFor();
    await page.screenshot({ path: path.join(shots, 'admin-audit-en.png'), fullPage: true });

    await page.getByTestId('nav-admin-break-glass').click();
    await page.getByTestId('admin-break-glass').waitFor();
    await page.waitForLoadState('networkidle');
    expect(await axeSeriousViolations(page)).toEqual([]);
    await page.screenshot({ path: path.join(shots, 'admin-break-glass-en.png') });

    // And back to Vietnamese.
    await page.getByTestId('lang-vi').click();
    expect(await page.locator('html').getAttribute('lang')).toBe('vi');

    await page.getByTestId('logout').click();
    await page.getByTestId('login-screen').waitFor();
    expect(errors).toEqual([]);
    await context.close();
  });

  it.each([
    ['referrer', DEMO.referrer, ['nav-patients', 'nav-new-consult', 'nav-my-requests']],
    ['specialist', DEMO.specialist, ['nav-queue', 'nav-my-consults']],
    ['radiologist', DEMO.radiologist, ['nav-worklist', 'nav-my-consults']],
  ] as const)('%s sees their screens without errors, in English, and they pass axe', async (name, email, navs) => {
    const context = await browser.newContext({ viewport: { width: 1366, height: 768 }, locale: 'en-GB' });
    const page = await context.newPage();
    const errors: string[] = [];
    page.on('pageerror', (e) => errors.push(e.message));
    await login(page, tp.url, email);
    expect(await page.locator('html').getAttribute('lang')).toBe('en');
    for (const nav of navs) {
      await page.getByTestId(nav).click();
      await page.waitForLoadState('networkidle');
      await page.waitForTimeout(300);
      expect(await axeSeriousViolations(page)).toEqual([]);
      await page.screenshot({ path: path.join(shots, `${name}-${nav.replace(/^nav-/, '')}-en.png`), fullPage: true });
    }
    expect(errors).toEqual([]);
    await context.close();
  });

  it('keeps a readable bundle: no raw message keys leak into the page', () => {
    const html = readFileSync(path.join(dist, 'index.html'), 'utf8');
    expect(html).toContain('Hội chẩn từ xa');
  });
});
