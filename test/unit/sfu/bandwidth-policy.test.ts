import { BandwidthPolicy } from '../../../server/sfu/bandwidth-policy';

const policy = new BandwidthPolicy({ audioOnlyBelowKbps: 150, audioOnlyRecoverAboveKbps: 250 });

describe('audio-only hysteresis', () => {
  test('enters below the threshold, leaves only above the recover threshold', () => {
    expect(policy.nextAudioOnly(false, 400)).toBe(false);
    expect(policy.nextAudioOnly(false, 149)).toBe(true);
    expect(policy.nextAudioOnly(true, 200)).toBe(true); // between thresholds: stays
    expect(policy.nextAudioOnly(false, 200)).toBe(false); // between thresholds: stays
    expect(policy.nextAudioOnly(true, 251)).toBe(false);
  });
  test('no estimate keeps the current mode', () => {
    expect(policy.nextAudioOnly(true, null)).toBe(true);
    expect(policy.nextAudioOnly(false, null)).toBe(false);
  });
  test('rejects thresholds without hysteresis', () => {
    expect(() => new BandwidthPolicy({ audioOnlyBelowKbps: 200, audioOnlyRecoverAboveKbps: 200 })).toThrow();
  });
});

describe('estimate', () => {
  test('takes the lower of client and server estimates', () => {
    expect(policy.estimate({ clientKbps: 500, serverKbps: 300 }, false)).toBe(300);
    expect(policy.estimate({ clientKbps: 100 }, false)).toBe(100);
    expect(policy.estimate({}, false)).toBeNull();
  });
  test('while audio only, a client report wins over the (unprobed) server estimate', () => {
    expect(policy.estimate({ clientKbps: 800, serverKbps: 90 }, true)).toBe(800);
    expect(policy.estimate({ serverKbps: 90 }, true)).toBe(90);
  });
  test('RTCP receiver reports: a receiver losing even the lowest layer (score ≤ 4) is judged below the audio-only threshold, without transport-cc or a client report', () => {
    // An aiortc-like receiver: no transport-cc (no server estimate), no client report, only RTCP RRs.
    const bad = policy.estimate({ videoScore: { score: 3, atLowestLayer: true } }, false);
    expect(bad).not.toBeNull();
    expect(policy.nextAudioOnly(false, bad)).toBe(true);
    // Even when the client's own figure says the link is fine.
    expect(policy.nextAudioOnly(false, policy.estimate({ clientKbps: 10_000, serverKbps: 600, videoScore: { score: 2, atLowestLayer: true } }, false))).toBe(
      true,
    );
    // A bad score above the lowest layer sets no ceiling (the estimates pick the layer); a fair score is no verdict.
    expect(policy.estimate({ serverKbps: 600, videoScore: { score: 3, atLowestLayer: false } }, false)).toBe(600);
    expect(policy.estimate({ serverKbps: 600, videoScore: { score: 7, atLowestLayer: true } }, false)).toBe(600);
    // While audio only there is no video to score: the ceiling does not hold recovery back.
    expect(policy.estimate({ clientKbps: 800, videoScore: { score: 0, atLowestLayer: true } }, true)).toBe(800);
  });
});

describe('spatial layer choice', () => {
  const base = { videoConsumers: 1, audioConsumers: 1, availableLayers: 3 };
  test('plenty of bandwidth and a large render → top layer', () => {
    expect(policy.spatialLayerFor({ ...base, estimatedKbps: 3000, renderedHeight: 720 })).toBe(2);
  });
  test('a thumbnail needs only the low layer', () => {
    expect(policy.spatialLayerFor({ ...base, estimatedKbps: 3000, renderedHeight: 120 })).toBe(0);
    expect(policy.spatialLayerFor({ ...base, estimatedKbps: 3000, renderedHeight: 300 })).toBe(1);
  });
  test('bandwidth shared between videos limits the layer', () => {
    expect(policy.spatialLayerFor({ ...base, estimatedKbps: 700, renderedHeight: 720 })).toBe(1);
    expect(policy.spatialLayerFor({ ...base, videoConsumers: 3, audioConsumers: 3, estimatedKbps: 700 })).toBe(0);
    expect(policy.spatialLayerFor({ ...base, estimatedKbps: 2000, videoConsumers: 2 })).toBe(2);
  });
  test('client cap and available layers bound the choice', () => {
    expect(policy.spatialLayerFor({ ...base, estimatedKbps: 5000, clientMaxSpatial: 1 })).toBe(1);
    expect(policy.spatialLayerFor({ ...base, estimatedKbps: 5000, availableLayers: 2 })).toBe(1);
    expect(policy.spatialLayerFor({ ...base, estimatedKbps: null })).toBe(2);
  });
});
