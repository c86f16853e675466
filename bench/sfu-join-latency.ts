/**
 * Join → first remote video frame in headless Chromium, p50/p95 over ≥ 10 joins.
 *
 *   npx tsc -p tsconfig.build.json && node dist/bench/sfu-join-latency.js [--joins 12]
 *
 * A standalone media plane (no database): an HTTP server with the platform's Realtime (same JWT
 * handshake), SfuService + SfuSignalling with an admit-everyone admission function, and the e2e
 * test page (client/src/call/consult-call.ts bundled by esbuild). One Chromium publishes camera
 * and microphone; a second Chromium opens a fresh page per join and measures, in the page clock,
 * from `ConsultCall.start()` (getUserMedia, sfu:join, transports, produce, consume) to the first
 * decoded frame of the publisher's video (requestVideoFrameCallback). Prints the figures and one JSON line.
 */
import { randomBytes } from 'node:crypto';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { AccessTokens } from '../server/auth/tokens';
import { createLogger } from '../server/observability/logger';
import { Realtime } from '../server/realtime/realtime';
import { loadMediasoup, loadSfuConfig, resolveWorkerBin } from '../server/sfu/config';
import { SfuService } from '../server/sfu/sfu-service';
import { SfuSignalling } from '../server/sfu/signalling';
import { launchChromium } from '../test/support/browser';
import type { CallPageGlobal } from '../test/e2e/pages/call-page-api';
import { serveCallPage } from '../test/e2e/pages/serve-call-page';

function percentile(sorted: number[], p: number): number {
  if (!sorted.length) return NaN;
  const i = Math.min(sorted.length - 1, Math.max(0, Math.ceil((p / 100) * sorted.length) - 1));
  return sorted[i]!;
}

async function main(): Promise<void> {
  const joinsArg = process.argv.indexOf('--joins');
  const joins = Math.max(10, joinsArg > 0 ? Number(process.argv[joinsArg + 1]) : 12);
  const cacheDir = process.env.HOICHAN_CACHE ?? path.join(os.homedir(), '.cache', 'hoichan');
  const workerBin = resolveWorkerBin(process.env.MEDIASOUP_WORKER_BIN, cacheDir);
  const mediasoup = loadMediasoup(workerBin);
  const logger = createLogger('silent');
  const config = loadSfuConfig({ SFU_WORKERS: '1', SFU_RECONNECT_GRACE_S: '0' }, 'test');
  const service = await SfuService.create({
    config,
    logger,
    mediasoup,
    workerBin,
    admission: async (userId) => ({ participant: true, admitted: true, host: userId === 'publisher', displayName: userId, status: 'in_progress' }),
  });
  const tokens = new AccessTokens({ secret: randomBytes(32).toString('hex'), issuer: 'bench', audience: 'bench', ttlS: 900 });
  const httpServer = createServer();
  const realtime = new Realtime(httpServer, tokens, logger);
  const signalling = new SfuSignalling(service, logger, { reconnectGraceMs: 0 });
  realtime.use(signalling.attach);
  await new Promise<void>((r) => httpServer.listen(0, '127.0.0.1', () => r()));
  const serverUrl = `http://127.0.0.1:${(httpServer.address() as AddressInfo).port}`;
  const page = await serveCallPage();
  const publisher = await launchChromium();
  const viewer = await launchChromium();
  const samples: number[] = [];
  try {
    const pub = await publisher.context.newPage();
    await pub.goto(page.url);
    await pub.waitForFunction(() => !!(globalThis as unknown as CallPageGlobal).hoichanCall);
    await pub.evaluate((a) => (globalThis as unknown as CallPageGlobal).hoichanCall.start(a), {
      serverUrl,
      token: tokens.sign({ sub: 'publisher', role: 'specialist', facility: 'f' }),
      consultId: 'bench',
    });
    // eslint-disable-next-line @typescript-eslint/await-thenable -- awaits whether or not the driver returns a promise
    process.stdout.write(`join → first remote video frame, ${joins} joins (Chromium ${(await publisher.context.browser()?.version?.()) ?? ''})\n`);
    for (let i = 0; i < joins; i++) {
      const p = await viewer.context.newPage();
      await p.goto(page.url);
      await p.waitForFunction(() => !!(globalThis as unknown as CallPageGlobal).hoichanCall);
      const token = tokens.sign({ sub: `viewer-${i}`, role: 'referring_doctor', facility: 'f' });
      const { startedAt } = await p.evaluate((a) => (globalThis as unknown as CallPageGlobal).hoichanCall.start(a), { serverUrl, token, consultId: 'bench' });
      const handle = await p.waitForFunction(() => (globalThis as unknown as CallPageGlobal).hoichanCall.firstRemoteFrameAt(), undefined, { timeout: 30_000 });
      const firstFrame = (await handle.jsonValue()) as number;
      const ms = firstFrame - startedAt;
      samples.push(ms);
      process.stdout.write(`  join ${i + 1}: ${ms.toFixed(0)} ms\n`);
      await p.evaluate(() => (globalThis as unknown as CallPageGlobal).hoichanCall.leave());
      await p.close();
    }
  } finally {
    await viewer.close();
    await publisher.close();
    await page.close();
    signalling.close();
    await realtime.close();
    await service.close();
    httpServer.closeAllConnections();
    await new Promise<void>((r) => httpServer.close(() => r()));
  }
  const sorted = [...samples].sort((a, b) => a - b);
  const p50 = percentile(sorted, 50);
  const p95 = percentile(sorted, 95);
  process.stdout.write(`p50 ${p50.toFixed(0)} ms  p95 ${p95.toFixed(0)} ms  (min ${sorted[0]?.toFixed(0)}, max ${sorted[sorted.length - 1]?.toFixed(0)})\n`);
  process.stdout.write(
    `machine: ${os.cpus()[0]?.model ?? '?'} × ${os.cpus().length}, load ${os
      .loadavg()
      .map((l) => l.toFixed(1))
      .join(' ')}\n`,
  );
  process.stdout.write(
    `${JSON.stringify({ bench: 'sfu-join-latency', joins, p50Ms: Math.round(p50), p95Ms: Math.round(p95), samplesMs: samples.map(Math.round) })}\n`,
  );
}

main().catch((err: unknown) => {
  process.stderr.write(`sfu-join-latency failed: ${(err as Error).stack ?? String(err)}\n`);
  process.exit(1);
});
