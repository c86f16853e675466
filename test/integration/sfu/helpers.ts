/** Shared helpers of the SFU integration tests (no test here). */
import type { SfuServerToClientEvents } from '../../../contracts/sfu-events';
import type { CallNotifier } from '../../../server/sfu/call-peer';
import { loadMediasoup, loadSfuConfig, resolveWorkerBin, type SfuConfig } from '../../../server/sfu/config';
import { createLogger } from '../../../server/observability/logger';
import type { MediaNodes } from '../../../server/sfu/media-nodes';
import { SfuService, type CallAdmission } from '../../../server/sfu/sfu-service';
import os from 'node:os';
import path from 'node:path';

export const cacheDir = process.env.HOICHAN_CACHE ?? path.join(os.homedir(), '.cache', 'hoichan');

export function workerBinOrSkip(): string | undefined {
  return resolveWorkerBin(process.env.MEDIASOUP_WORKER_BIN, cacheDir);
}

export type Recorded = { event: keyof SfuServerToClientEvents; payload: unknown };

/** A notifier that records what a peer was told. */
export function recorder(): { notify: CallNotifier; events: Recorded[]; of: (event: keyof SfuServerToClientEvents) => unknown[] } {
  const events: Recorded[] = [];
  const notify: CallNotifier = (event, ...args) => {
    events.push({ event, payload: args[0] });
  };
  return { notify, events, of: (event) => events.filter((e) => e.event === event).map((e) => e.payload) };
}

export async function startService(
  admission: CallAdmission,
  env: Record<string, string> = {},
  nodes: MediaNodes | null = null,
): Promise<{ service: SfuService; config: SfuConfig }> {
  const config = loadSfuConfig({ SFU_WORKERS: '2', SFU_POLICY_INTERVAL_MS: '60000', ...env }, 'test');
  const workerBin = resolveWorkerBin(config.workerBin ?? process.env.MEDIASOUP_WORKER_BIN, cacheDir);
  const mediasoup = loadMediasoup(workerBin);
  const service = await SfuService.create({ config, logger: createLogger('silent'), mediasoup, admission, workerBin, nodes });
  return { service, config };
}

/** Client-side RTP parameters of a VP8 camera with 3 simulcast layers, as mediasoup-client would send them. */
export function vp8SimulcastRtpParameters(ssrcBase: number): Record<string, unknown> {
  return {
    mid: '1',
    codecs: [
      {
        mimeType: 'video/VP8',
        payloadType: 96,
        clockRate: 90000,
        parameters: {},
        rtcpFeedback: [
          { type: 'nack' },
          { type: 'nack', parameter: 'pli' },
          { type: 'ccm', parameter: 'fir' },
          { type: 'goog-remb' },
          { type: 'transport-cc' },
        ],
      },
    ],
    headerExtensions: [
      { uri: 'urn:ietf:params:rtp-hdrext:sdes:mid', id: 4 },
      { uri: 'http://www.ietf.org/id/draft-holmer-rmcat-transport-wide-cc-extensions-01', id: 5 },
    ],
    encodings: [
      { ssrc: ssrcBase, scalabilityMode: 'L1T3', maxBitrate: 100000 },
      { ssrc: ssrcBase + 1, scalabilityMode: 'L1T3', maxBitrate: 300000 },
      { ssrc: ssrcBase + 2, scalabilityMode: 'L1T3', maxBitrate: 900000 },
    ],
    rtcp: { cname: `cam-${ssrcBase}` },
  };
}

export function opusRtpParameters(ssrc: number): Record<string, unknown> {
  return {
    mid: '0',
    codecs: [
      { mimeType: 'audio/opus', payloadType: 111, clockRate: 48000, channels: 2, parameters: { useinbandfec: 1 }, rtcpFeedback: [{ type: 'transport-cc' }] },
    ],
    headerExtensions: [{ uri: 'urn:ietf:params:rtp-hdrext:sdes:mid', id: 4 }],
    encodings: [{ ssrc }],
    rtcp: { cname: `mic-${ssrc}` },
  };
}

export const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

export async function waitFor(predicate: () => boolean, timeoutMs = 10_000, what = 'condition'): Promise<void> {
  const until = Date.now() + timeoutMs;
  while (!predicate()) {
    if (Date.now() > until) throw new Error(`timed out waiting for ${what}`);
    await sleep(50);
  }
}
