/**
 * Issue 16 item 5 in real Chromium: the district doctor sends an X-ray with a new consult over a
 * 384 kbps uplink (a TCP relay between the browser and the server that paces what the browser
 * sends; DevTools throttling does not pace upload bodies); the link goes down (every connection
 * reset, new ones refused) once the server holds part of the file and comes back seconds later. tus-js-client asks the server where it stands (HEAD) and
 * sends the rest from there (PATCH at a non-zero offset, no second upload); the study is stored
 * with the bytes of the file and the consult is created. And when the tab is closed mid-upload,
 * sending the same file again from a new tab continues that upload (the fingerprint kept in
 * localStorage) instead of starting over.
 */
import { createHash } from 'node:crypto';
import { existsSync, readdirSync, readFileSync, statSync } from 'node:fs';
import net from 'node:net';
import path from 'node:path';
import { chromium, type Browser, type Page } from 'playwright-core';
import { CHROMIUM_ARGS, CHROMIUM_PATH } from '../../support/browser';
import { DEMO_PATIENT_ID } from '../../support/consult-flow';
import { DEMO, DEMO_PASSWORD, startTestPlatform, type TestPlatform } from '../../support/platform';

const repo = path.resolve(__dirname, '../../..');
const dist = path.join(repo, 'client', 'dist');
const xrayPath = path.join(repo, 'test', 'fixtures', 'dicom', '03_gdcm-CR-MONO1-10-chest.dcm');
const xray = readFileSync(xrayPath);
/** 384 kbit/s, in bytes per second. */
const UPLINK = 48_000;

/** The district link: a TCP relay to the platform, browser → server paced at `UPLINK`, that can go down. */
interface Link {
  url: string;
  down(): void;
  up(): void;
  close(): Promise<void>;
}

async function districtLink(target: string): Promise<Link> {
  const { hostname, port } = new URL(target);
  let isUp = true;
  const open = new Set<net.Socket>();
  const server = net.createServer((browserSide) => {
    if (!isUp) {
      browserSide.resetAndDestroy();
      return;
    }
    const serverSide = net.connect(Number(port), hostname);
    open.add(browserSide).add(serverSide);
    const cut = () => {
      open.delete(browserSide);
      open.delete(serverSide);
      browserSide.destroy();
      serverSide.destroy();
    };
    browserSide.on('data', (chunk: Buffer) => {
      browserSide.pause();
      serverSide.write(chunk);
      setTimeout(() => browserSide.resume(), (chunk.length / UPLINK) * 1000);
    });
    serverSide.pipe(browserSide);
    for (const s of [browserSide, serverSide]) {
      s.on('error', cut);
      s.on('close', cut);
    }
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port: relayPort } = server.address() as net.AddressInfo;
  return {
    url: `http://127.0.0.1:${relayPort}`,
    down() {
      isUp = false;
      for (const s of open) s.resetAndDestroy();
      open.clear();
    },
    up() {
      isUp = true;
    },
    close: () => new Promise<void>((resolve) => server.close(() => resolve())),
  };
}

let tp: TestPlatform;
let link: Link;
let browser: Browser;
beforeAll(async () => {
  if (!existsSync(path.join(dist, 'index.html'))) throw new Error('client/dist is missing: build the client first (npm run build:client)');
  tp = await startTestPlatform({ CLIENT_DIST_DIR: dist });
  link = await districtLink(tp.url);
  browser = await chromium.launch({ executablePath: CHROMIUM_PATH, args: CHROMIUM_ARGS });
});
afterAll(async () => {
  await browser?.close();
  link?.down();
  await link?.close();
  await tp?.close();
});

/** Bytes the server holds of the one upload in progress (0 before it exists). */
function serverHolds(): number {
  const dir = path.join(tp.dataDir, 'uploads', 'partial');
  const data = existsSync(dir) ? readdirSync(dir).filter((f) => /^[0-9a-f]{32}$/.test(f)) : [];
  return data.reduce((n, f) => n + statSync(path.join(dir, f)).size, 0);
}

async function until(what: string, check: () => boolean, timeoutMs: number): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!check()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

type UploadRequest = { method: string; path: string; offset: string | undefined };

/** The referrer signs in through the relay on `page`; its upload requests go to `seen`, its page errors to `errors`. */
async function signInRecordingUploads(page: Page, seen: UploadRequest[], errors: string[]): Promise<void> {
  page.on('pageerror', (e) => errors.push(e.message));
  page.on('request', (r) => {
    const { pathname } = new URL(r.url());
    if (pathname.startsWith('/api/uploads')) seen.push({ method: r.method(), path: pathname, offset: r.headers()['upload-offset'] });
  });
  await page.goto(link.url);
  await page.getByTestId('login-email').fill(DEMO.referrer);
  await page.getByTestId('login-password').fill(DEMO_PASSWORD);
  await page.getByTestId('login-submit').click();
}

/** A signed-in referrer's new-consult form, filled in with `file` as the X-ray; its upload requests go to `seen`. */
async function newConsultWith(page: Page, file: string, seen: UploadRequest[], errors: string[]): Promise<void> {
  await signInRecordingUploads(page, seen, errors);
  await page.getByTestId('nav-new-consult').click();
  await page.getByTestId('new-consult-form').waitFor();
  const patientSelect = page.locator('select[data-testid="consult-patient"]');
  await patientSelect.waitFor({ timeout: 30_000 });
  await patientSelect.selectOption(DEMO_PATIENT_ID);
  await page.getByTestId('consult-reason').fill('Cough for three weeks, evening fever, weight loss.');
  await page.getByTestId('consult-question').fill('Pulmonary tuberculosis on the chest X-ray?');
  await page.getByTestId('consult-section-imaging').check();
  await page.getByTestId('consult-xray').setInputFiles(file);
}

const storedStudy = (bytes: Buffer) =>
  tp.platform.db.database.connection
    .collection('imaging_studies')
    .findOne({ sha256: createHash('sha256').update(bytes).digest('hex'), patientId: DEMO_PATIENT_ID });

test('an X-ray upload survives the link going down in the middle and resumes from the server offset', async () => {
  const ctx = await browser.newContext({ viewport: { width: 1366, height: 768 }, locale: 'en-GB' });
  const page = await ctx.newPage();
  const errors: string[] = [];
  const uploadRequests: UploadRequest[] = [];
  await newConsultWith(page, xrayPath, uploadRequests, errors);

  // The outage, once the server holds a third of the file; back four seconds later.
  await page.getByTestId('consult-submit').click();
  await until('a third of the X-ray on the server', () => serverHolds() >= xray.length / 3, 60_000);
  link.down();
  const heldAtOutage = serverHolds();
  expect(heldAtOutage).toBeLessThan(xray.length);
  await page.waitForTimeout(4_000);
  link.up();

  await page.getByTestId('consult-created').waitFor({ timeout: 90_000 });

  // One upload, resumed: a HEAD after the outage and a PATCH from where the server stood.
  expect(uploadRequests.filter((r) => r.method === 'POST' && r.path === '/api/uploads').length).toBe(1);
  expect(uploadRequests.filter((r) => r.method === 'POST' && r.path.endsWith('/complete')).length).toBeGreaterThanOrEqual(1);
  expect(uploadRequests.some((r) => r.method === 'HEAD')).toBe(true);
  const resumedAt = uploadRequests.filter((r) => r.method === 'PATCH').map((r) => Number(r.offset));
  expect(resumedAt[0]).toBe(0);
  expect(Math.max(...resumedAt)).toBeGreaterThanOrEqual(heldAtOutage);
  expect(Math.max(...resumedAt)).toBeLessThan(xray.length);

  // The study holds the file's bytes, and the upload area is empty again.
  expect(await storedStudy(xray)).not.toBeNull();
  expect(serverHolds()).toBe(0);
  expect(errors).toEqual([]);
  await ctx.close();
}, 180_000);

// The request waits in the browser's outbox (IndexedDB) when the tab goes; the doctor opens the app
// again and the outbox sends it on: the same upload continues from the server's offset (its address
// was kept in localStorage), and one consult is created, never two.
test('after the tab is closed mid-upload, opening the app again sends the kept request: the same upload continues from the server offset', async () => {
  const otherPath = path.join(repo, 'test', 'fixtures', 'dicom', '04_Monochrome1-Jpeg.dcm');
  const other = readFileSync(otherPath);
  const ctx = await browser.newContext({ viewport: { width: 1366, height: 768 }, locale: 'en-GB' });
  const errors: string[] = [];
  const first: UploadRequest[] = [];
  const firstPage = await ctx.newPage();
  await newConsultWith(firstPage, otherPath, first, errors);
  await firstPage.getByTestId('consult-submit').click();
  await until('a third of the X-ray on the server', () => serverHolds() >= other.length / 3, 60_000);
  link.down();
  await firstPage.close();
  const heldAtCut = serverHolds();
  expect(heldAtCut).toBeLessThan(other.length);
  link.up();

  const again: UploadRequest[] = [];
  const secondPage = await ctx.newPage();
  await signInRecordingUploads(secondPage, again, errors);
  await secondPage.getByTestId('nav-my-requests').click();
  await secondPage.locator('[data-testid="outbox-entry"][data-state="sent"]').waitFor({ timeout: 90_000 });

  expect(first.filter((r) => r.method === 'POST' && r.path === '/api/uploads').length).toBe(1);
  expect(again.filter((r) => r.method === 'POST' && r.path === '/api/uploads')).toEqual([]);
  expect(again[0]?.method).toBe('HEAD');
  const patches = again.filter((r) => r.method === 'PATCH').map((r) => Number(r.offset));
  expect(patches.length).toBeGreaterThan(0);
  expect(Math.min(...patches)).toBeGreaterThanOrEqual(heldAtCut);
  const study = await storedStudy(other);
  expect(study).not.toBeNull();
  expect(await tp.platform.db.database.connection.collection('consultrequests').countDocuments({ imagingStudyIds: study?._id })).toBe(1);
  expect(serverHolds()).toBe(0);
  expect(errors).toEqual([]);
  await ctx.close();
}, 180_000);
