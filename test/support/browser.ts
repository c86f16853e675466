/**
 * Headless Debian Chromium for the e2e tests (playwright-core, never a downloaded browser):
 * fake camera and microphone, WebRTC allowed on loopback, a fresh profile per instance.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { chromium, type BrowserContext, type Page } from 'playwright-core';

export const CHROMIUM_PATH = process.env.HOICHAN_CHROMIUM ?? '/usr/bin/chromium';

export const CHROMIUM_ARGS = [
  '--headless',
  '--no-sandbox',
  '--disable-gpu',
  '--disable-background-networking',
  '--disable-component-update',
  '--disable-sync',
  '--use-fake-ui-for-media-stream',
  '--use-fake-device-for-media-stream',
  '--allow-loopback-in-peer-connection',
];

export interface TestBrowser {
  context: BrowserContext;
  close(): Promise<void>;
}

/**
 * One Chromium instance with its own fresh --user-data-dir (a persistent context).
 * `executablePath`: e.g. a wrapper that runs Chromium inside a network namespace (test/e2e/netns/lab.ts).
 */
export async function launchChromium(extraArgs: string[] = [], opts: { executablePath?: string } = {}): Promise<TestBrowser> {
  const userDataDir = mkdtempSync(path.join(os.tmpdir(), 'hoichan-chromium-'));
  const context = await chromium.launchPersistentContext(userDataDir, {
    executablePath: opts.executablePath ?? CHROMIUM_PATH,
    headless: true,
    args: [...CHROMIUM_ARGS, ...extraArgs],
    ignoreDefaultArgs: ['--mute-audio'],
    permissions: ['camera', 'microphone'],
  });
  return {
    context,
    async close() {
      await context.close().catch(() => undefined);
      rmSync(userDataDir, { recursive: true, force: true });
    },
  };
}

/** What the web client exposes on `window.hoichanConsultCall` (VideoGrid.tsx), in DOM-free types (this file is in the server build through the benches). */
interface ClientCallGlobal {
  hoichanConsultCall?: {
    consumerStats(): Promise<
      Map<string, { info: { kind: string }; stats: { forEach(cb: (s: { type: string; bytesReceived?: number; framesDecoded?: number }) => void): void } }>
    >;
  };
}

/** Inbound video of the web client's call on this page: RTP bytes and decoded frames (consumer getStats()). */
export function inboundVideo(page: Page): Promise<{ bytes: number; frames: number }> {
  return page.evaluate(async () => {
    const stats = await (globalThis as unknown as ClientCallGlobal).hoichanConsultCall?.consumerStats();
    let bytes = 0;
    let frames = 0;
    for (const { info, stats: report } of stats?.values() ?? []) {
      if (info.kind !== 'video') continue;
      report.forEach((s: { type: string; bytesReceived?: number; framesDecoded?: number }) => {
        if (s.type === 'inbound-rtp') {
          bytes += s.bytesReceived ?? 0;
          frames += s.framesDecoded ?? 0;
        }
      });
    }
    return { bytes, frames };
  });
}
