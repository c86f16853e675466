/**
 * A constrained link, enforced on the server: the SFU caps what it sends to each participant
 * (SFU_MAX_OUTGOING_KBPS=100, below the 150 kbps audio-only threshold). Nobody reports a fake
 * estimate: the cap lowers mediasoup's send-side bandwidth estimate, the policy switches the
 * receivers to audio only, everyone is told, and audio keeps flowing.
 */
import os from 'node:os';
import path from 'node:path';
import type { Page } from 'playwright-core';
import { resolveWorkerBin } from '../../../server/sfu/config';
import { launchChromium, type TestBrowser } from '../../support/browser';
import { consultForCall } from '../../support/consult-flow';
import { DEMO, startTestPlatform, type TestPlatform } from '../../support/platform';
import type {} from '../pages/call-page';
import { serveCallPage, type ServedPage } from '../pages/serve-call-page';

const haveWorker = !!resolveWorkerBin(process.env.MEDIASOUP_WORKER_BIN, process.env.HOICHAN_CACHE ?? path.join(os.homedir(), '.cache', 'hoichan'));
const maybe = haveWorker || process.env.CI ? describe : describe.skip;
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

let tp: TestPlatform;
let page: ServedPage;
let consultId = '';
const browsers: TestBrowser[] = [];

async function join(email: string): Promise<{ page: Page; peerId: string }> {
  const { accessToken } = await tp.login(email);
  const browser = await launchChromium();
  browsers.push(browser);
  const p = await browser.context.newPage();
  await p.goto(page.url);
  await p.waitForFunction(() => !!window.hoichanCall);
  const started = await p.evaluate((args) => window.hoichanCall.start(args), { serverUrl: tp.url, token: accessToken, consultId, statsIntervalMs: 1000 });
  return { page: p, peerId: started.peerId! };
}

async function audioBytesFrom(p: Page, peerId: string): Promise<number> {
  const all = await p.evaluate(() => window.hoichanCall.inbound());
  return all.find((s) => s.peerId === peerId && s.kind === 'audio')?.bytesReceived ?? 0;
}

maybe('live consult call over a capped link', () => {
  beforeAll(async () => {
    tp = await startTestPlatform({ SFU_MAX_OUTGOING_KBPS: '100', SFU_WORKERS: '1', SFU_POLICY_INTERVAL_MS: '1000' });
    page = await serveCallPage();
    consultId = (await consultForCall(tp, { admit: [DEMO.referrer] })).consultId;
  });

  afterAll(async () => {
    for (const b of browsers) await b.close();
    await page?.close();
    await tp?.close();
  });

  test('the server-side cap switches receivers to audio only, shown to all, and audio keeps flowing', async () => {
    const specialist = await join(DEMO.specialist);
    const referrer = await join(DEMO.referrer);
    // The district doctor's receive side drops below the threshold: they are told, and so is the specialist.
    for (const p of [referrer.page, specialist.page]) {
      await p.waitForFunction(
        (id) => window.hoichanCall.events().some((e) => e.event === 'audio-only' && e.payload.peerId === id && e.payload.audioOnly === true),
        referrer.peerId,
        { timeout: 60_000 },
      );
    }
    expect(await referrer.page.evaluate(() => window.hoichanCall.state().audioOnly)).toBe(true);
    // No estimate was faked by the page: the switch came from the server's own measurement.
    expect(await referrer.page.evaluate(() => window.hoichanCall.events().some((e) => e.event === 'error'))).toBe(false);
    // Audio keeps flowing both ways over the capped link.
    const before = [await audioBytesFrom(referrer.page, specialist.peerId), await audioBytesFrom(specialist.page, referrer.peerId)];
    await sleep(4000);
    const after = [await audioBytesFrom(referrer.page, specialist.peerId), await audioBytesFrom(specialist.page, referrer.peerId)];
    expect(after[0]).toBeGreaterThan(before[0]!);
    expect(after[1]).toBeGreaterThan(before[1]!);
  });
});
