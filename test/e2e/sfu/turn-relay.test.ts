/**
 * TURN against Debian's coturn on loopback: the platform hands out time-limited HMAC credentials
 * (use-auth-secret); Chromium with iceTransportPolicy 'relay' gathers a relay candidate with them,
 * and a call forced through the relay carries media.
 */
import { createServer } from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { resolveWorkerBin } from '../../../server/sfu/config';
import { io } from 'socket.io-client';
import { launchChromium, type TestBrowser } from '../../support/browser';
import { DEMO, startTestPlatform, type TestPlatform } from '../../support/platform';
import type {} from '../pages/call-page';
import { serveCallPage, type ServedPage } from '../pages/serve-call-page';
import { consultForCall } from '../../support/consult-flow';
import { coturnInstalled, startCoturn, type Coturn } from '../../support/coturn';

const haveWorker = !!resolveWorkerBin(process.env.MEDIASOUP_WORKER_BIN, process.env.HOICHAN_CACHE ?? path.join(os.homedir(), '.cache', 'hoichan'));
const maybe = coturnInstalled() && (haveWorker || process.env.CI) ? describe : describe.skip;
/** The real consult of the call (test/support/consult-flow.ts), set in beforeAll. */
let CONSULT = '';
const SECRET = 'turn-secret-for-tests-0123456789';
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

async function freePort(): Promise<number> {
  const srv = createServer();
  await new Promise<void>((r) => srv.listen(0, '127.0.0.1', () => r()));
  const port = (srv.address() as { port: number }).port;
  await new Promise<void>((r) => srv.close(() => r()));
  return port;
}

maybe('TURN through coturn on loopback', () => {
  let turn: Coturn;
  let tp: TestPlatform;
  let page: ServedPage;
  const browsers: TestBrowser[] = [];

  beforeAll(async () => {
    const port = await freePort();
    turn = await startCoturn({ ip: '127.0.0.1', port, secret: SECRET, maxPort: 49200, allowLoopbackPeers: true });
    await sleep(500);
    tp = await startTestPlatform({
      SFU_WORKERS: '1',
      TURN_URLS: `turn:127.0.0.1:${port}?transport=udp,turn:127.0.0.1:${port}?transport=tcp`,
      TURN_SECRET: SECRET,
      TURN_TTL_S: '600',
    });
    page = await serveCallPage();
    // The referrer requests, the specialist accepts, starts and hosts, and admits the referrer.
    CONSULT = (await consultForCall(tp, { admit: [DEMO.referrer] })).consultId;
  });

  afterAll(async () => {
    for (const b of browsers) await b.close();
    await page?.close();
    await tp?.close();
    turn?.stop();
  });

  test('the join hands out coturn REST credentials with which Chromium gathers a relay candidate', async () => {
    const { accessToken } = await tp.login(DEMO.specialist);
    const socket = io(tp.url, { path: '/socket.io', transports: ['websocket'], auth: { token: accessToken }, reconnection: false });
    const joined = await socket.timeout(10_000).emitWithAck('sfu:join', { consultId: CONSULT });
    await socket.timeout(10_000).emitWithAck('sfu:leave', {});
    socket.disconnect();
    expect(joined.ok).toBe(true);
    const turnEntry = joined.iceServers.find((s: { urls: string[] }) => s.urls.some((u) => u.startsWith('turn:')));
    expect(turnEntry.username).toMatch(/^\d+:usr-specialist$/);
    const browser = await launchChromium();
    browsers.push(browser);
    const p = await browser.context.newPage();
    await p.goto(page.url);
    await p.waitForFunction(() => !!window.hoichanCall);
    const candidates = await p.evaluate((servers) => window.hoichanCall.gatherCandidates(servers, 'relay'), joined.iceServers);
    expect(candidates.some((c) => c.type === 'relay')).toBe(true);
    expect(candidates.every((c) => c.type === 'relay')).toBe(true);
    // A wrong secret gathers nothing.
    const bad = await p.evaluate((servers) => window.hoichanCall.gatherCandidates(servers, 'relay'), [{ ...turnEntry, credential: 'AAAA' }]);
    expect(bad.filter((c) => c.type === 'relay')).toEqual([]);
  });

  test('a call forced through the relay carries media', async () => {
    const pages = [];
    for (const email of [DEMO.specialist, DEMO.referrer]) {
      const { accessToken } = await tp.login(email);
      const browser = await launchChromium();
      browsers.push(browser);
      const p = await browser.context.newPage();
      await p.goto(page.url);
      await p.waitForFunction(() => !!window.hoichanCall);
      await p.evaluate((a) => window.hoichanCall.start(a), {
        serverUrl: tp.url,
        token: accessToken,
        consultId: CONSULT,
        // eslint-disable-next-line @typescript-eslint/no-unnecessary-type-assertion -- keeps the literal type for page.evaluate's argument (tsc needs it)
        iceTransportPolicy: 'relay' as RTCIceTransportPolicy,
      });
      pages.push(p);
    }
    const viewer = pages[1]!;
    await viewer.waitForFunction(async () => (await window.hoichanCall.inbound()).some((s) => s.kind === 'video' && s.framesDecoded > 10), undefined, {
      timeout: 45_000,
      polling: 1000,
    });
    // the selected pair shows in the stats a moment after media flows on a loaded machine
    await viewer.waitForFunction(async () => (await window.hoichanCall.selectedCandidateTypes()).length > 0, undefined, { timeout: 10_000, polling: 250 });
    const types = await viewer.evaluate(() => window.hoichanCall.selectedCandidateTypes());
    expect(types.length).toBeGreaterThan(0);
    expect(types.every((t) => t === 'relay')).toBe(true);
  });
});
