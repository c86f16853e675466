/**
 * A participant of a live call whose Chromium runs inside a lab namespace (lab.ts): the call test
 * page's script (test/e2e/pages/call-page.ts, bundled) is injected into a document of the server's
 * own origin (`<serverUrl>/healthz`, loaded over the lab link; nothing is served from the root
 * namespace), so socket.io and WebRTC go over the lab link exactly as the web client's would.
 */
import type { Page } from 'playwright-core';
import type { CallPageGlobal, CallPageInbound } from '../pages/call-page-api';
import { bundleCallPage } from '../pages/serve-call-page';
import { launchChromium, type TestBrowser } from '../../support/browser';
import type { NetLab } from './lab';

export const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

let bundle: Promise<{ html: string; js: Buffer }> | null = null;

export interface LabParticipant {
  host: string;
  page: Page;
  browser: TestBrowser;
  peerId: string;
  startedAt: number;
}

/** Opens Chromium in `host`'s namespace, loads the call page and starts the call. */
export async function joinFromLab(
  lab: NetLab,
  host: string,
  opts: { serverUrl: string; token: string; consultId: string; iceTransportPolicy?: 'all' | 'relay'; statsIntervalMs?: number },
): Promise<LabParticipant> {
  bundle ??= bundleCallPage();
  const { js } = await bundle;
  // A plain-http origin other than localhost is not a secure context (no getUserMedia); production
  // serves HTTPS. The flag gives this one origin what HTTPS would.
  const browser = await launchChromium([`--unsafely-treat-insecure-origin-as-secure=${opts.serverUrl}`], { executablePath: lab.chromiumIn(host) });
  try {
    const page = await browser.context.newPage();
    page.on('pageerror', (err) => process.stderr.write(`[page ${host}] ${err.message}\n`));
    // A document of the server's own origin, loaded over the lab link (so Chromium files it under the
    // server's address space, as it does the web client), then the call page's script in it.
    await page.goto(`${opts.serverUrl}/healthz`);
    await page.addScriptTag({ content: js.toString('utf8') });
    await page.waitForFunction(() => !!(globalThis as unknown as CallPageGlobal).hoichanCall);
    const started = await page.evaluate((a) => (globalThis as unknown as CallPageGlobal).hoichanCall.start(a), {
      serverUrl: opts.serverUrl,
      token: opts.token,
      consultId: opts.consultId,
      statsIntervalMs: opts.statsIntervalMs ?? 1000,
      ...(opts.iceTransportPolicy ? { iceTransportPolicy: opts.iceTransportPolicy } : {}),
    });
    return { host, page, browser, peerId: started.peerId!, startedAt: started.startedAt };
  } catch (err) {
    await browser.close();
    throw err;
  }
}

export async function inboundFrom(p: Page, peerId: string): Promise<{ audio?: CallPageInbound; video?: CallPageInbound }> {
  const all = await p.evaluate(() => (globalThis as unknown as CallPageGlobal).hoichanCall.inbound());
  return { audio: all.find((s) => s.peerId === peerId && s.kind === 'audio'), video: all.find((s) => s.peerId === peerId && s.source === 'camera') };
}

/** Waits until audio bytes (and video bytes + decoded frames) from `peerId` increase at `p`; returns when, ms after the call. */
export async function waitMediaFlowing(p: Page, peerId: string, opts: { video?: boolean; timeoutMs?: number; pollMs?: number } = {}): Promise<number> {
  const t0 = Date.now();
  const deadline = t0 + (opts.timeoutMs ?? 45_000);
  let last = await inboundFrom(p, peerId);
  for (;;) {
    await sleep(opts.pollMs ?? 500);
    const now = await inboundFrom(p, peerId);
    const audioUp = !!now.audio && !!last.audio && now.audio.bytesReceived > last.audio.bytesReceived;
    const videoUp = !!now.video && !!last.video && now.video.bytesReceived > last.video.bytesReceived && now.video.framesDecoded > last.video.framesDecoded;
    if (audioUp && (opts.video === false || videoUp)) return Date.now() - t0;
    if (Date.now() > deadline) throw new Error(`media from ${peerId} not flowing after ${Date.now() - t0} ms: ${JSON.stringify({ last, now })}`);
    last = now;
  }
}
