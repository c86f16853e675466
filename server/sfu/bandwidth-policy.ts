/**
 * Which simulcast layer each receiver gets, and when a receiver drops to audio only.
 * Pure logic (no mediasoup): the room feeds it estimates and applies its decisions.
 *
 * Layers (encodings sent by the browser module, low → high): 0 ≈ ¼ resolution ~100 kbps,
 * 1 ≈ ½ resolution ~300 kbps, 2 = full resolution ~900 kbps.
 */

export interface LayerSpec {
  /** Bitrate the layer needs, kbps (its encoding's maxBitrate). */
  kbps: number;
  /** Largest rendered height (device pixels) for which this layer is enough. */
  maxRenderedHeight: number;
}

export const DEFAULT_LAYERS: readonly LayerSpec[] = [
  { kbps: 100, maxRenderedHeight: 180 },
  { kbps: 300, maxRenderedHeight: 360 },
  { kbps: 900, maxRenderedHeight: Number.POSITIVE_INFINITY },
];

/** Kept for each receiver's audio consumers before video gets any bandwidth. */
export const AUDIO_RESERVE_KBPS = 40;

export interface BandwidthPolicyOptions {
  audioOnlyBelowKbps: number;
  audioOnlyRecoverAboveKbps: number;
  layers?: readonly LayerSpec[];
}

export interface ReceiverEstimate {
  /** Downlink estimate reported by the client (kbps), if fresh. */
  clientKbps?: number;
  /** The server's send-side estimate towards this receiver (recv transport availableOutgoingBitrate, kbps). */
  serverKbps?: number;
  /**
   * What the receiver's own RTCP receiver reports say: the lowest mediasoup consumer score
   * (0–10, from reported loss and jitter) of its forwarded video, and whether that video is
   * already at the lowest spatial layer. Every receiver sends these, with or without transport-cc.
   */
  videoScore?: { score: number; atLowestLayer: boolean };
}

/** A video consumer score at or below this, on the lowest layer, means the receiver cannot take video. */
export const VIDEO_SCORE_AUDIO_ONLY = 4;
/** A lowest-layer video consumer scoring at least this is delivered well enough to keep (≲ 8 % lost). */
export const VIDEO_SCORE_KEEPS_VIDEO = 7;
/**
 * transport-cc estimates dip on a lossy link (loss-based back-off) and recover: when the
 * send-side estimate is the only figure below the threshold, it must stay there this long before
 * the receiver goes audio only.
 */
export const SERVER_LOW_CONFIRM_MS = 4_000;

/** What is known when a receiver's estimate has fallen below the audio-only threshold. */
export interface AudioOnlyEvidence {
  estimatedKbps: number | null;
  /** A fresh client report is itself below the threshold. */
  clientBelow: boolean;
  /** The receiver's worst forwarded video (RTCP score) and whether it is on the lowest layer. */
  videoScore?: { score: number; atLowestLayer: boolean };
  /** A standing queue on the receiver's downlink (DownlinkDelay); undefined: not measured. */
  queueing: boolean | undefined;
  /** How long the estimate has been below the threshold on the send-side estimate alone, ms. */
  serverLowForMs: number;
  /** The server's own cap on what it sends to each receiver (SFU_MAX_OUTGOING_KBPS), kbps. */
  capKbps?: number;
}

export interface LayerRequest {
  estimatedKbps: number | null;
  /** Number of video consumers sharing the downlink. */
  videoConsumers: number;
  audioConsumers: number;
  /** Rendered height of this video in device pixels, if the client reported it. */
  renderedHeight?: number;
  /** The client's own cap (sfu:set-preferred-layers). */
  clientMaxSpatial?: number;
  /** Spatial layers the producer actually sends (1 for non-simulcast). */
  availableLayers: number;
}

export class BandwidthPolicy {
  readonly #below: number;
  readonly #recover: number;
  readonly #layers: readonly LayerSpec[];

  constructor(options: BandwidthPolicyOptions) {
    if (options.audioOnlyRecoverAboveKbps <= options.audioOnlyBelowKbps) throw new Error('recover threshold must be above the audio-only threshold');
    this.#below = options.audioOnlyBelowKbps;
    this.#recover = options.audioOnlyRecoverAboveKbps;
    this.#layers = options.layers ?? DEFAULT_LAYERS;
  }

  get audioOnlyBelowKbps(): number {
    return this.#below;
  }

  get audioOnlyRecoverAboveKbps(): number {
    return this.#recover;
  }

  /**
   * One downlink figure from what we know: the lower of the client's report and the server's
   * send-side estimate. While a receiver is audio only its video is paused, so the server-side
   * estimate (which needs media to probe with) is not trusted for recovery when the client reports.
   */
  estimate(e: ReceiverEstimate, audioOnly: boolean): number | null {
    const known = [e.clientKbps, audioOnly && e.clientKbps !== undefined ? undefined : e.serverKbps].filter(
      (v): v is number => typeof v === 'number' && Number.isFinite(v) && v > 0,
    );
    const ceiling = audioOnly ? undefined : this.scoreCeilingKbps(e.videoScore);
    if (ceiling !== undefined) known.push(ceiling);
    return known.length ? Math.min(...known) : null;
  }

  /**
   * A ceiling from RTCP receiver reports: a receiver losing much of even the lowest layer
   * (score ≤ VIDEO_SCORE_AUDIO_ONLY) gets at most `score / 10` of (audio reserve + lowest layer),
   * which is below the audio-only threshold; otherwise no ceiling (undefined).
   */
  scoreCeilingKbps(videoScore: ReceiverEstimate['videoScore']): number | undefined {
    if (!videoScore || !videoScore.atLowestLayer || videoScore.score > VIDEO_SCORE_AUDIO_ONLY) return undefined;
    return Math.min(this.#below - 1, ((AUDIO_RESERVE_KBPS + (this.#layers[0]?.kbps ?? 100)) * Math.max(0, videoScore.score)) / 10);
  }

  /**
   * A receiver with video whose estimate is below the threshold: go audio only now? At once when
   * a client report says so, when its lowest layer is being lost (score ≤ 4), when its downlink
   * holds a standing queue (the link is full: the low estimate is real), or when the server's own
   * cap is below the threshold. Otherwise the send-side estimate alone must stay low for
   * SERVER_LOW_CONFIRM_MS, and even then video stays while the receiver's own reports say the lowest
   * layer arrives (score ≥ 7) without a standing queue: transport-cc backs off on random loss and on
   * a loaded host's jitter although the link carries the layer. Without a delay measurement the
   * estimate must still fit the lowest layer for that.
   */
  switchToAudioOnly(e: AudioOnlyEvidence): boolean {
    if (e.clientBelow || this.scoreCeilingKbps(e.videoScore) !== undefined || e.queueing === true) return true;
    if (e.capKbps !== undefined && e.capKbps < this.#below) return true;
    if (e.serverLowForMs < SERVER_LOW_CONFIRM_MS) return false;
    const v = e.videoScore;
    const lowestArrives = !!v && v.atLowestLayer && v.score >= VIDEO_SCORE_KEEPS_VIDEO;
    const fitsLowestLayer = e.estimatedKbps !== null && e.estimatedKbps >= (this.#layers[0]?.kbps ?? 100);
    return !(lowestArrives && (e.queueing === false || fitsLowestLayer));
  }

  /** Hysteresis: enter audio only below the threshold, leave it only above the recover threshold. */
  nextAudioOnly(current: boolean, estimatedKbps: number | null): boolean {
    if (estimatedKbps === null) return current;
    if (!current) return estimatedKbps < this.#below;
    return !(estimatedKbps > this.#recover);
  }

  /** The spatial layer to forward: the smaller of what the bandwidth share allows and what the rendered size needs. */
  spatialLayerFor(req: LayerRequest): number {
    const top = Math.max(0, Math.min(req.availableLayers, this.#layers.length) - 1);
    let bySize = top;
    const renderedHeight = req.renderedHeight;
    if (renderedHeight !== undefined && renderedHeight > 0) {
      bySize = this.#layers.findIndex((l) => renderedHeight <= l.maxRenderedHeight);
      if (bySize < 0) bySize = top;
    }
    let byBandwidth = top;
    if (req.estimatedKbps !== null) {
      const share = (req.estimatedKbps - AUDIO_RESERVE_KBPS * req.audioConsumers) / Math.max(1, req.videoConsumers);
      byBandwidth = 0;
      for (let i = 0; i <= top; i++) if ((this.#layers[i]?.kbps ?? Infinity) <= share) byBandwidth = i;
    }
    const cap = req.clientMaxSpatial ?? top;
    return Math.max(0, Math.min(top, bySize, byBandwidth, cap));
  }
}

/** Round-trip samples older than this no longer set a receiver's baseline (its route may have changed). */
const DELAY_BASELINE_WINDOW_MS = 60_000;
/** RTT this far above the lowest recently seen: packets wait in a queue on the receiver's downlink. */
export const STANDING_QUEUE_MS = 250;

/**
 * The delay of what the SFU forwards to one receiver, from the round-trip times mediasoup derives
 * from its RTCP receiver reports (audio keeps them coming while video is paused). The lowest RTT of
 * the last minute is the path's own delay; when the last two samples both sit STANDING_QUEUE_MS
 * above it, the downlink is full and a queue is building (a bottleneck's buffer filling, as on a
 * thin rural link), which random loss alone never causes.
 */
export class DownlinkDelay {
  #samples: Array<{ at: number; ms: number }> = [];

  record(rttMs: number, now = Date.now()): void {
    if (!Number.isFinite(rttMs) || rttMs <= 0) return; // 0: no receiver report yet
    this.#samples.push({ at: now, ms: rttMs });
    while (now - (this.#samples[0]?.at ?? now) > DELAY_BASELINE_WINDOW_MS) this.#samples.shift();
  }

  /** True: a standing queue; false: none; undefined: fewer than two samples within `maxAgeMs`. */
  queueing(maxAgeMs: number, now = Date.now()): boolean | undefined {
    const recent = this.#samples.filter((s) => now - s.at <= maxAgeMs).slice(-2);
    if (recent.length < 2) return undefined;
    const baseline = Math.min(...this.#samples.filter((s) => now - s.at <= DELAY_BASELINE_WINDOW_MS).map((s) => s.ms));
    return Math.min(...recent.map((s) => s.ms)) - baseline >= STANDING_QUEUE_MS;
  }
}

/** A receiver's first video trial comes this long after it went audio only. */
export const VIDEO_TRIAL_FIRST_MS = 10_000;
/** How long a trial lasts unless the link shows it cannot take it. */
export const VIDEO_TRIAL_MS = 3_000;
/** The wait between failed trials doubles up to this. */
export const VIDEO_TRIAL_MAX_WAIT_MS = 30_000;

/**
 * While a receiver is audio only its video is paused, so the send-side estimate has only audio to
 * measure with and mediasoup has no reason to probe above it: after a link recovers, the estimate
 * can take 15–20 s to climb past the recover threshold. A trial resumes the receiver's lowest layer
 * for a few seconds (the transport then probes towards what video wants); it ends early when the
 * downlink queues or the layer is being lost, and failed trials back off (10 s, 20 s, then 30 s),
 * so a link that stays thin carries one short trial every 30 s. The estimate climbing past the recover
 * threshold during a trial brings video back for good.
 */
export class VideoTrial {
  #until: number | null = null;
  #nextAt = 0;
  #waitMs = VIDEO_TRIAL_FIRST_MS;

  /** The receiver has just gone audio only. */
  reset(now = Date.now()): void {
    this.#until = null;
    this.#waitMs = VIDEO_TRIAL_FIRST_MS;
    this.#nextAt = now + VIDEO_TRIAL_FIRST_MS;
  }

  get active(): boolean {
    return this.#until !== null;
  }

  /**
   * One policy pass while the receiver stays audio only: 'start' (resume the lowest layer),
   * 'end' (pause it again) or null (nothing changes). A trial starts only when the downlink is
   * known not to queue.
   */
  step(link: { queueing: boolean | undefined; lowestLayerLost: boolean }, now = Date.now()): 'start' | 'end' | null {
    if (this.#until !== null) {
      if (now < this.#until && link.queueing !== true && !link.lowestLayerLost) return null;
      this.#until = null;
      this.#waitMs = Math.min(VIDEO_TRIAL_MAX_WAIT_MS, this.#waitMs * 2);
      this.#nextAt = now + this.#waitMs;
      return 'end';
    }
    if (now < this.#nextAt || link.queueing !== false) return null;
    this.#until = now + VIDEO_TRIAL_MS;
    return 'start';
  }
}
