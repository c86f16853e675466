/**
 * Signing out on a shared clinic computer (real platform serving client/dist, Debian's Chromium):
 * the doctor's sent outbox entries are removed at once; requests still waiting (with their X-rays)
 * are kept for the doctor's next sign-in or discarded, as the doctor chooses; another doctor's
 * entries are never touched. Build the client first: `npm run build:client`.
 */
import { existsSync } from 'node:fs';
import path from 'node:path';
import { chromium, type Browser, type Page } from 'playwright-core';
import { CHROMIUM_ARGS, CHROMIUM_PATH } from '../../support/browser';
import { DEMO, DEMO_PASSWORD, startTestPlatform, type TestPlatform } from '../../support/platform';

const dist = path.resolve(__dirname, '../../../client/dist');

interface StoredEntry {
  id: string;
  userId: string;
  state: string;
}

/** Puts entries straight into the outbox's IndexedDB store (the shape client/src/offline/outbox-state.ts writes). */
async function seedOutbox(page: Page, entries: { id: string; userId: string; state: 'failed' | 'sent' }[]): Promise<void> {
  await page.evaluate(async (list) => {
    const db = await new Promise<IDBDatabase>((resolve, reject) => {
      const req = indexedDB.open('hoichan-outbox', 1);
      req.onupgradeneeded = () => req.result.createObjectStore('consult-requests', { keyPath: 'id' });
      req.onsuccess = () => resolve(req.result);
      req.onerror = () => reject(req.error ?? new Error('open failed'));
    });
    await new Promise<void>((resolve, reject) => {
      const t = db.transaction('consult-requests', 'readwrite');
      const now = Date.now();
      for (const e of list)
        t.objectStore('consult-requests').put({
          ...e,
          createdAt: now,
          updatedAt: now,
          consult: {
            patientId: 'pat-demo-hoa',
            reason: 'Ho kéo dài',
            clinicalQuestion: 'Lao?',
            urgency: 'urgent',
            requestedSpecialty: 'pulmonology',
            submit: true,
          },
          patientLabel: 'Nguyễn Thị Hoa',
          files: [{ name: 'cxr.png', type: 'image/png', blob: new Blob([new Uint8Array(2048)]) }],
          attempts: 1,
          nextAttemptAt: now + 3_600_000,
          ...(e.state === 'failed' ? { error: { status: 422, code: 'invalid', message: 'refused' } } : { consultId: 'c-1' }),
        });
      t.oncomplete = () => resolve();
      t.onerror = () => reject(t.error ?? new Error('put failed'));
    });
    db.close();
  }, entries);
}

async function outbox(page: Page): Promise<StoredEntry[]> {
  return page.evaluate(async () => {
    const db = await new Promise<IDBDatabase>((resolve, reject) => {
      const req = indexedDB.open('hoichan-outbox', 1);
      req.onsuccess = () => resolve(req.result);
      req.onerror = () => reject(req.error ?? new Error('open failed'));
    });
    const all = await new Promise<StoredEntry[]>((resolve, reject) => {
      const req = db.transaction('consult-requests', 'readonly').objectStore('consult-requests').getAll();
      req.onsuccess = () => resolve((req.result as StoredEntry[]).map((e) => ({ id: e.id, userId: e.userId, state: e.state })));
      req.onerror = () => reject(req.error ?? new Error('read failed'));
    });
    db.close();
    return all.sort((a, b) => a.id.localeCompare(b.id));
  });
}

describe('sign-out on a shared clinic computer', () => {
  let tp: TestPlatform;
  let browser: Browser;
  let referrerId: string;

  beforeAll(async () => {
    if (!existsSync(path.join(dist, 'index.html'))) throw new Error('client/dist is missing: run `npm run build:client` first');
    tp = await startTestPlatform({ CLIENT_DIST_DIR: dist });
    browser = await chromium.launch({ executablePath: CHROMIUM_PATH, args: CHROMIUM_ARGS });
    const { accessToken } = await tp.login(DEMO.referrer);
    referrerId = (await tp.api('GET', '/api/me', { token: accessToken })).body.id as string;
  });
  afterAll(async () => {
    await browser?.close();
    await tp?.close();
  });

  async function signedIn(): Promise<Page> {
    const context = await browser.newContext({ locale: 'en-GB' });
    const page = await context.newPage();
    await page.goto(tp.url);
    await page.getByTestId('login-email').fill(DEMO.referrer);
    await page.getByTestId('login-password').fill(DEMO_PASSWORD);
    await page.getByTestId('login-submit').click();
    await page.getByTestId('app-header').waitFor();
    return page;
  }

  test('unsent requests: the doctor is asked; "stay" keeps the session, "discard" removes only their own entries', async () => {
    const page = await signedIn();
    await seedOutbox(page, [
      { id: 'a-waiting', userId: referrerId, state: 'failed' },
      { id: 'b-sent', userId: referrerId, state: 'sent' },
      { id: 'c-other-doctor', userId: 'usr-someone-else', state: 'failed' },
    ]);
    await page.getByTestId('logout').click();
    const dialog = page.getByTestId('signout-unsent');
    await dialog.waitFor();
    expect(await dialog.textContent()).toContain('1 consult request(s) not sent yet');
    // The sent entry (patient label only) is gone at once, whatever the doctor chooses next.
    expect((await outbox(page)).map((e) => e.id)).toEqual(['a-waiting', 'c-other-doctor']);

    await page.getByTestId('signout-cancel').click();
    await dialog.waitFor({ state: 'detached' });
    await page.getByTestId('app-header').waitFor();

    await page.getByTestId('logout').click();
    await page.getByTestId('signout-discard').click();
    await page.getByTestId('login-screen').waitFor();
    expect(await outbox(page)).toEqual([{ id: 'c-other-doctor', userId: 'usr-someone-else', state: 'failed' }]);
    await page.context().close();
  });

  test('"keep" signs out and leaves the waiting request for the next sign-in; nothing waiting → no question', async () => {
    const page = await signedIn();
    await seedOutbox(page, [{ id: 'a-waiting', userId: referrerId, state: 'failed' }]);
    await page.getByTestId('logout').click();
    await page.getByTestId('signout-keep').click();
    await page.getByTestId('login-screen').waitFor();
    expect((await outbox(page)).map((e) => e.id)).toEqual(['a-waiting']);

    await page.getByTestId('login-email').fill(DEMO.specialist);
    await page.getByTestId('login-password').fill(DEMO_PASSWORD);
    await page.getByTestId('login-submit').click();
    await page.getByTestId('app-header').waitFor();
    await page.getByTestId('logout').click();
    await page.getByTestId('login-screen').waitFor();
    expect(await page.getByTestId('signout-unsent').count()).toBe(0);
    expect((await outbox(page)).map((e) => e.id)).toEqual(['a-waiting']);
    await page.context().close();
  });
});
