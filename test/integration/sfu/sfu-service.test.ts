/**
 * SfuService and ConsultCallRoom against real mediasoup workers, with an injected admission
 * function (the consult feature's callAdmission in production). Media itself is proven by the
 * two-browser e2e test; here: placement, signalling state, layers, audio-only, worker respawn.
 */
import type { SfuService } from '../../../server/sfu/sfu-service';
import { opusRtpParameters, recorder, startService, vp8SimulcastRtpParameters, waitFor, workerBinOrSkip } from './helpers';

const maybe = workerBinOrSkip() || process.env.HOICHAN_SFU_PREBUILT ? describe : describe.skip;

const roster: Record<string, Record<string, { admitted: boolean; host: boolean }>> = {
  'c-1': {
    alice: { admitted: true, host: true },
    bob: { admitted: true, host: false },
    carol: { admitted: true, host: false },
    waiting: { admitted: false, host: false },
  },
  'c-2': { alice: { admitted: true, host: true }, bob: { admitted: true, host: false } },
  'c-3': { alice: { admitted: true, host: true } },
};
const admission = async (userId: string, consultId: string) => {
  const p = roster[consultId]?.[userId];
  if (!roster[consultId]) return null;
  return { participant: !!p, admitted: !!p?.admitted, host: !!p?.host, displayName: userId, status: 'in_progress' };
};

maybe('SfuService', () => {
  let service: SfuService;
  beforeAll(async () => {
    ({ service } = await startService(admission));
  });
  afterAll(async () => {
    await service?.close();
  });

  test('only admitted participants join', async () => {
    await expect(service.join('mallory', 'c-1', recorder().notify)).rejects.toThrow(/not a participant/);
    await expect(service.join('waiting', 'c-1', recorder().notify)).rejects.toThrow(/admit/);
    await expect(service.join('alice', 'no-such-consult', recorder().notify)).rejects.toThrow(/not a participant/);
  });

  test('rooms are spread over the least-loaded workers', async () => {
    const a = await service.join('alice', 'c-2', recorder().notify);
    const b = await service.join('alice', 'c-3', recorder().notify);
    expect(a.room.workerIndex).not.toBe(b.room.workerIndex);
    expect(service.workerLoads().map((l) => l.routers)).toEqual([1, 1]);
    a.room.close();
    b.room.close();
    expect(service.workerLoads().map((l) => l.routers)).toEqual([0, 0]);
  });

  test('join, transports (UDP+TCP), produce simulcast, consume paused, audio-only switch, leave', async () => {
    const alice = recorder();
    const bob = recorder();
    const a = await service.join('alice', 'c-1', alice.notify);
    expect(a.result.peers).toEqual([]);
    expect(a.result.host).toBe(true);
    const sendT = await a.room.createTransport(a.peer, 'send');
    const protocols = new Set(sendT.iceCandidates.map((c) => c.protocol));
    expect(protocols).toEqual(new Set(['udp', 'tcp']));
    expect(sendT.iceCandidates.every((c) => c.address === '127.0.0.1')).toBe(true);
    await a.room.produce(a.peer, { transportId: sendT.transportId, kind: 'audio', source: 'mic', rtpParameters: opusRtpParameters(1111) });
    const camId = await a.room.produce(a.peer, {
      transportId: sendT.transportId,
      kind: 'video',
      source: 'camera',
      rtpParameters: vp8SimulcastRtpParameters(2000),
    });
    await expect(
      a.room.produce(a.peer, { transportId: sendT.transportId, kind: 'video', source: 'camera', rtpParameters: vp8SimulcastRtpParameters(3000) }),
    ).rejects.toThrow(/already producing/);
    const screenId = await a.room.produce(a.peer, {
      transportId: sendT.transportId,
      kind: 'video',
      source: 'screen',
      rtpParameters: { ...vp8SimulcastRtpParameters(4000), mid: '2' },
    });

    const b = await service.join('bob', 'c-1', bob.notify);
    expect(b.result.peers.map((p) => p.userId)).toEqual(['alice']);
    expect(b.result.producers.map((p) => p.source).sort()).toEqual(['camera', 'mic', 'screen']);
    expect(alice.of('sfu:peer-joined')).toEqual([expect.objectContaining({ userId: 'bob', host: false })]);
    await b.room.createTransport(b.peer, 'recv');
    const caps = b.result.routerRtpCapabilities;
    const cam = await b.room.consume(b.peer, camId, caps);
    expect(cam).toMatchObject({ kind: 'video', source: 'camera', paused: true, audioOnly: false, peerId: a.peer.peerId });
    await b.room.consume(b.peer, screenId, caps);
    const mic = b.result.producers.find((p) => p.source === 'mic')!;
    const audio = await b.room.consume(b.peer, mic.producerId, caps);
    await expect(b.room.consume(b.peer, camId, caps)).rejects.toThrow(/already consuming/);
    for (const id of [cam.consumerId, audio.consumerId]) await b.room.setPaused(b.peer, 'consumer', id, false);
    const camState = b.peer.consumers.get(cam.consumerId)!;
    expect(camState.consumer.type).toBe('simulcast');
    expect(camState.consumer.paused).toBe(false);

    // Layer policy: a thumbnail gets layer 0, a large render on a good link layer 2, a client cap wins.
    await b.room.reportStats(b.peer, { downlinkKbps: 3000, renderedSizes: [{ consumerId: cam.consumerId, width: 160, height: 120 }] });
    expect(camState.consumer.preferredLayers?.spatialLayer).toBe(0);
    await b.room.reportStats(b.peer, { downlinkKbps: 3000, renderedSizes: [{ consumerId: cam.consumerId, width: 1280, height: 720 }] });
    expect(camState.consumer.preferredLayers?.spatialLayer).toBe(2);
    await b.room.setPreferredLayers(b.peer, cam.consumerId, 1);
    expect(camState.consumer.preferredLayers?.spatialLayer).toBe(1);

    // Audio only below 150 kbps: video consumers paused server-side, audio not; everybody told.
    const low = await b.room.reportStats(b.peer, { downlinkKbps: 100 });
    expect(low).toEqual({ audioOnly: true, estimatedKbps: 100 });
    expect(camState.consumer.paused).toBe(true);
    expect(b.peer.consumers.get(audio.consumerId)!.consumer.paused).toBe(false);
    for (const r of [alice, bob])
      expect(r.of('sfu:audio-only')).toEqual([{ peerId: b.peer.peerId, audioOnly: true, reason: 'low-bandwidth', estimatedKbps: 100 }]);
    // The client resuming its video while audio only does not override the policy.
    await b.room.setPaused(b.peer, 'consumer', cam.consumerId, false);
    expect(camState.consumer.paused).toBe(true);
    // Between the thresholds: stays audio only (hysteresis); above 250: back.
    expect((await b.room.reportStats(b.peer, { downlinkKbps: 200 })).audioOnly).toBe(true);
    expect((await b.room.reportStats(b.peer, { downlinkKbps: 400 })).audioOnly).toBe(false);
    expect(camState.consumer.paused).toBe(false);
    expect(bob.of('sfu:audio-only')).toHaveLength(2);

    // ICE restart gives fresh ICE credentials.
    const recvId = b.peer.transportOf('recv')!.id;
    const before = b.peer.transportOf('recv')!.iceParameters.usernameFragment;
    const ice = await b.room.restartIce(b.peer, recvId);
    expect(ice.usernameFragment).not.toBe(before);

    // Screen share stops: bob's consumer closes.
    a.room.closeProducer(a.peer, screenId);
    expect(bob.of('sfu:producer-closed')).toEqual([{ producerId: screenId, peerId: a.peer.peerId }]);
    await waitFor(() => bob.of('sfu:consumer-closed').length === 1, 5000, 'consumer-closed'); // the worker notifies

    // Alice leaves: bob's consumers close, bob sees peer-left; alice's transports are closed.
    const aliceTransports = [...a.peer.transports.values()].map((t) => t.transport);
    a.room.removePeer(a.peer.peerId, 'left');
    expect(aliceTransports.every((t) => t.closed)).toBe(true);
    await waitFor(() => b.peer.consumers.size === 0, 5000, "bob's consumers of alice closed");
    expect(bob.of('sfu:peer-left')).toEqual([{ peerId: a.peer.peerId, userId: 'alice', reason: 'left' }]);
    expect(a.room.consumerCount).toBe(0);
  });

  test('a user joining again replaces the old session (no ghost peer)', async () => {
    const old = recorder();
    const other = recorder();
    const first = await service.join('carol', 'c-1', old.notify);
    await first.room.createTransport(first.peer, 'send');
    const observer = await service.join('alice', 'c-1', other.notify);
    const second = await service.join('carol', 'c-1', recorder().notify);
    expect(first.peer.closed).toBe(true);
    expect(first.peer.transports.size).toBe(0);
    expect(old.of('sfu:rejoin')).toEqual([{ consultId: 'c-1', reason: 'session-replaced', peerId: first.peer.peerId }]);
    expect(other.of('sfu:peer-left')).toContainEqual({ peerId: first.peer.peerId, userId: 'carol', reason: 'replaced' });
    expect(second.room.peers().filter((p) => p.userId === 'carol')).toHaveLength(1);
    observer.room.removePeer(observer.peer.peerId, 'left');
    second.room.removePeer(second.peer.peerId, 'left');
  });

  test('a worker that dies is respawned; its rooms are re-created and their peers told to rejoin', async () => {
    const r = recorder();
    const joined = await service.join('alice', 'c-2', r.notify);
    const slot = joined.room.workerIndex;
    const pid = service.workerPid(slot)!;
    process.kill(pid, 'SIGKILL');
    await waitFor(() => r.of('sfu:rejoin').length > 0, 10_000, 'sfu:rejoin');
    expect(r.of('sfu:rejoin')).toEqual([{ consultId: 'c-2', reason: 'worker-died', peerId: joined.peer.peerId }]);
    await waitFor(() => service.respawnCount >= 1 && !!service.room('c-2'), 10_000, 'respawn and re-created room');
    expect(service.workerPid(slot)).not.toBe(pid);
    expect(service.workerLoads().every((l) => l.alive)).toBe(true);
    const again = await service.join('alice', 'c-2', recorder().notify);
    expect(again.room).not.toBe(joined.room);
    expect(again.result.peers).toEqual([]);
    again.room.close();
  });
});
