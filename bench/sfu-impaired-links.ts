/**
 * A consult call on rural links, in headless Chromium inside network namespaces; prints the
 * figures of the five impaired-link scenarios (the same code as test/e2e/netns/impaired-links.test.ts), plus (b′): the
 * 80 kbps downlink held for --thin-seconds, to see the audio-only video trials meet a link that stays thin.
 *
 *   npx tsc -p tsconfig.build.json && sudo node dist/bench/sfu-impaired-links.js [--seconds 120] [--joins 10] [--thin-seconds 40] [--lossy-only]
 *
 * Needs root (network namespaces, veth, tc, nftables) and Debian's coturn. A standalone media
 * plane on the lab bridge's address (Realtime with the platform's JWT handshake, SfuService +
 * SfuSignalling with an admit-everyone admission, no database); the specialist's Chromium in an
 * unimpaired namespace, the district doctor's in one whose veth is shaped (tbf), lossy (nftables
 * numgen), cut (link down) or firewalled (no UDP; TCP only to the web server and TURN).
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
import { sleep, type LabParticipant } from '../test/e2e/netns/call-in-lab';
import {
  joinSpecialist,
  scenarioJoinLatency,
  scenarioLossyLink,
  scenarioOutage,
  scenarioSqueeze,
  scenarioThinLink,
  scenarioUdpBlocked,
  type ScenarioCall,
} from '../test/e2e/netns/impaired-scenarios';
import { labUnavailableReason, NetLab } from '../test/e2e/netns/lab';
import { startCoturn } from '../test/support/coturn';

function arg(name: string, fallback: number): number {
  const i = process.argv.indexOf(`--${name}`);
  return i > 0 ? Number(process.argv[i + 1]) : fallback;
}

async function main(): Promise<void> {
  const why = labUnavailableReason();
  if (why) throw new Error(why);
  const seconds = arg('seconds', 120);
  const joins = Math.max(5, arg('joins', 10));
  const lab = NetLab.create();
  const opened: LabParticipant[] = [];
  const secret = randomBytes(16).toString('hex');
  const turnPort = 3478;
  for (const h of ['office', 'clinic', 'clinic2']) lab.addHost(h);
  const turn = await startCoturn({ ip: lab.gatewayIp, port: turnPort, secret });
  const cacheDir = process.env.HOICHAN_CACHE ?? path.join(os.homedir(), '.cache', 'hoichan');
  const workerBin = resolveWorkerBin(process.env.MEDIASOUP_WORKER_BIN, cacheDir);
  const mediasoup = loadMediasoup(workerBin);
  const logger = createLogger('silent');
  const config = loadSfuConfig(
    { SFU_WORKERS: '1', SFU_LISTEN_IP: lab.gatewayIp, TURN_URLS: `turn:${lab.gatewayIp}:${turnPort}?transport=tcp`, TURN_SECRET: secret },
    'production',
  );
  const service = await SfuService.create({
    config,
    logger,
    mediasoup,
    workerBin,
    admission: async (userId) => ({ participant: true, admitted: true, host: userId === 'specialist', displayName: userId, status: 'in_progress' }),
  });
  const tokens = new AccessTokens({ secret: randomBytes(32).toString('hex'), issuer: 'bench', audience: 'bench', ttlS: 900 });
  const httpServer = createServer((_req, res) => res.writeHead(200, { 'content-type': 'text/plain' }).end('ok'));
  const realtime = new Realtime(httpServer, tokens, logger);
  const signalling = new SfuSignalling(service, logger, { reconnectGraceMs: config.reconnectGraceMs });
  realtime.use(signalling.attach);
  await new Promise<void>((r) => httpServer.listen(0, lab.gatewayIp, () => r()));
  const port = (httpServer.address() as AddressInfo).port;
  const call: ScenarioCall = {
    serverUrl: `http://${lab.gatewayIp}:${port}`,
    consultId: 'bench',
    async token(who) {
      return tokens.sign({ sub: who, role: who === 'specialist' ? 'specialist' : 'referring_doctor', facility: 'f' });
    },
    serverPeers: () => service.room('bench')?.peers().length ?? 0,
  };
  const rows: Array<[string, string]> = [];
  const figures: Record<string, unknown> = {};
  try {
    await sleep(500);
    const specialist = await joinSpecialist(lab, call);
    opened.push(specialist);
    const e = await scenarioJoinLatency(lab, call, specialist, joins);
    opened.push(e.referrer);
    figures.e = { samplesMs: e.samplesMs.map(Math.round), p50Ms: Math.round(e.p50Ms), p95Ms: Math.round(e.p95Ms) };
    rows.push([`(e) join → first remote frame, 384 kbps + 3 % loss, ${joins} joins`, `p50 ${Math.round(e.p50Ms)} ms, p95 ${Math.round(e.p95Ms)} ms`]);
    const parts = { specialist, referrer: e.referrer };
    const a = await scenarioLossyLink(lab, parts, seconds);
    figures.a = a;
    const pct = (x: number) => `${(x * 100).toFixed(1)} %`;
    rows.push([
      `(a) 384 kbps + 3 % loss, ${seconds} s, clinic receives`,
      `audio concealed ${pct(a.clinicReceives.audioConcealedFraction)}, longest video gap ${a.clinicReceives.longestVideoGapMs} ms, ${a.clinicReceives.freezes} freezes, ${a.clinicReceives.medianFrameHeight}p median, ${a.clinicReceives.videoFps.toFixed(1)} fps`,
    ]);
    rows.push([
      `(a) same link, specialist receives`,
      `audio concealed ${pct(a.officeReceives.audioConcealedFraction)}, longest video gap ${a.officeReceives.longestVideoGapMs} ms, ${a.officeReceives.freezes} freezes, ${a.officeReceives.medianFrameHeight}p median, ${a.officeReceives.videoFps.toFixed(1)} fps`,
    ]);
    rows.push([
      '(a) audio-only switches of the clinic during (a)',
      a.clinicAudioOnlySwitches.length ? a.clinicAudioOnlySwitches.map((s) => `${s.audioOnly ? 'on' : 'off'} at ${s.estimatedKbps} kbps`).join(', ') : 'none',
    ]);
    if (!process.argv.includes('--lossy-only')) {
      const b = await scenarioSqueeze(lab, parts);
      figures.b = b;
      rows.push([
        '(b) downlink 80 kbps → audio only; 1 Mbps → video',
        `audio only after ${b.toAudioOnlyMs} ms (audio ${b.audioBytesWhileAudioOnly} B in 3 s), video back after ${b.toVideoBackMs} ms`,
      ]);
      const thinSeconds = arg('thin-seconds', 40);
      const t = await scenarioThinLink(lab, parts, thinSeconds);
      figures.thin = t;
      rows.push([
        `(b′) downlink 80 kbps held ${thinSeconds} s; then 1 Mbps`,
        `audio only after ${t.toAudioOnlyMs} ms; while held: audio concealed ${pct(t.held.audioConcealedFraction)}, continuous ${t.held.audioContinuous}, ${Math.round(t.held.videoFps * t.held.seconds)} video frames from trials, ${t.audioOnlyEventsWhileHeld} audio-only events to the clinic; video back after ${t.toVideoBackMs} ms`,
      ]);
      const c = await scenarioOutage(lab, call, parts, 10);
      figures.c = c;
      rows.push([
        '(c) link down 10 s',
        `media back ${c.resumeClinicMs} ms (clinic) / ${c.resumeOfficeMs} ms (specialist) after the link returned; peers seen ${c.peersSeenByOffice}/${c.peersSeenByClinic}, server ${c.serverPeers}`,
      ]);
      const d = await scenarioUdpBlocked(lab, call, specialist, [port, turnPort]);
      opened.push(d.participant);
      figures.d = { joinToFirstFrameMs: Math.round(d.joinToFirstFrameMs), candidateTypes: d.candidateTypes, relayProtocols: d.relayProtocols };
      rows.push([
        '(d) UDP blocked → TURN',
        `join → first frame ${Math.round(d.joinToFirstFrameMs)} ms via ${d.candidateTypes.join('/')} over ${d.relayProtocols.join('/')}`,
      ]);
    }
  } finally {
    for (const p of opened) await p.browser.close();
    signalling.close();
    await realtime.close();
    await service.close();
    httpServer.closeAllConnections();
    await new Promise<void>((r) => httpServer.close(() => r()));
    turn.stop();
    await lab.close();
  }
  const width = Math.max(...rows.map(([k]) => k.length));
  for (const [k, v] of rows) process.stdout.write(`${k.padEnd(width)}  ${v}\n`);
  process.stdout.write(
    `machine: ${os.cpus()[0]?.model ?? '?'} × ${os.cpus().length}, load ${os
      .loadavg()
      .map((l) => l.toFixed(1))
      .join(' ')}\n`,
  );
  process.stdout.write(`${JSON.stringify({ bench: 'sfu-impaired-links', seconds, joins, ...figures })}\n`);
}

main().catch((err: unknown) => {
  process.stderr.write(`sfu-impaired-links failed: ${(err as Error).stack ?? String(err)}\n`);
  process.exit(1);
});
