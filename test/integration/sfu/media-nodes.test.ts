/**
 * Two media nodes (two SfuServices, each with its own mediasoup worker and its own MediaNodes) on
 * one real redis-server: a call whose participants join on different nodes is piped between their
 * routers. Real media through the pipes, and a node killed mid-call, are proven with browsers and
 * built server processes in test/e2e/sfu/two-process-call.test.ts.
 */
import { createClient } from 'redis';
import { createLogger } from '../../../server/observability/logger';
import { mediaNodeKey, MediaNodes, roomOwnerKey } from '../../../server/sfu/media-nodes';
import type { SfuService } from '../../../server/sfu/sfu-service';
import { startRedis, type TestRedis } from '../../support/redis';
import { opusRtpParameters, recorder, startService, vp8SimulcastRtpParameters, waitFor, workerBinOrSkip } from './helpers';

const maybe = workerBinOrSkip() || process.env.HOICHAN_SFU_PREBUILT ? describe : describe.skip;

const admission = async (userId: string, consultId: string) =>
  consultId.startsWith('c-') ? { participant: true, admitted: true, host: userId === 'alice', displayName: userId, status: 'in_progress' } : null;

type RedisClient = ReturnType<typeof createClient>;

maybe('media nodes: one call on two nodes, piped', () => {
  let redis: TestRedis;
  const clients: RedisClient[] = [];
  const nodes: MediaNodes[] = [];
  let a: SfuService;
  let b: SfuService;
  let nodesB: MediaNodes;

  async function node(id: string): Promise<{ service: SfuService; nodes: MediaNodes }> {
    const client = createClient({ url: redis.url });
    await client.connect();
    clients.push(client);
    const holder: { service?: SfuService } = {};
    const n = new MediaNodes({ redis: client, nodeId: id, pipeAddress: '127.0.0.1', load: () => holder.service!.nodeLoad(), logger: createLogger('silent') });
    nodes.push(n);
    const { service } = await startService(admission, { SFU_WORKERS: '1' }, n);
    holder.service = service;
    await n.start(service.onNodeMessage);
    return { service, nodes: n };
  }

  beforeAll(async () => {
    redis = await startRedis();
    ({ service: a } = await node('node-a'));
    ({ service: b, nodes: nodesB } = await node('node-b'));
  });
  afterAll(async () => {
    await a?.close();
    await b?.close();
    for (const n of nodes) await n.close();
    for (const c of clients) await c.close().catch(() => undefined);
    await redis?.stop();
  });

  test('both nodes register with their load', async () => {
    const registered = await nodesB.nodes();
    expect(registered.map((n) => n.nodeId).sort()).toEqual(['node-a', 'node-b']);
    expect(registered[0]).toMatchObject({ pipeAddress: '127.0.0.1', load: { routers: 0, consumers: 0, peers: 0 } });
  });

  test("participants on two nodes see each other and consume each other's producers; pausing, closing and leaving cross over", async () => {
    const alice = recorder();
    const bob = recorder();
    const onA = await a.join('alice', 'c-1', alice.notify);
    // The first node with a participant owns the call (Redis says so).
    expect(await nodesB.owner('c-1')).toBe('node-a');
    const send = await onA.room.createTransport(onA.peer, 'send');
    const micId = await onA.room.produce(onA.peer, { transportId: send.transportId, kind: 'audio', source: 'mic', rtpParameters: opusRtpParameters(1111) });
    const camId = await onA.room.produce(onA.peer, {
      transportId: send.transportId,
      kind: 'video',
      source: 'camera',
      rtpParameters: vp8SimulcastRtpParameters(2000),
    });

    // Bob joins on B: his node pipes to A's router; he sees alice at once, her producers as they are piped in.
    const onB = await b.join('bob', 'c-1', bob.notify);
    expect(b.pipes('c-1')!.state()).toEqual({ hub: false, upstream: 'node-a', links: ['node-a'] });
    expect(onB.result.peers.map((p) => p.userId)).toEqual(['alice']);
    await waitFor(() => onB.room.producers().length === 2, 5000, "alice's producers piped to B");
    const piped = onB.room.producers().map((p) => p.producer.id);
    expect(piped.sort()).toEqual([micId, camId].sort()); // the same producer ids on both nodes
    await waitFor(() => alice.of('sfu:peer-joined').length === 1, 5000, 'alice told bob joined');
    expect(alice.of('sfu:peer-joined')).toEqual([expect.objectContaining({ userId: 'bob', peerId: onB.peer.peerId })]);

    await onB.room.createTransport(onB.peer, 'recv');
    const cam = await onB.room.consume(onB.peer, camId, onB.result.routerRtpCapabilities);
    expect(cam).toMatchObject({ kind: 'video', source: 'camera', peerId: onA.peer.peerId });
    await onB.room.consume(onB.peer, micId, onB.result.routerRtpCapabilities);

    // Bob's own producer reaches A, and alice consumes it there.
    const bobSend = await onB.room.createTransport(onB.peer, 'send');
    const bobMic = await onB.room.produce(onB.peer, { transportId: bobSend.transportId, kind: 'audio', source: 'mic', rtpParameters: opusRtpParameters(3333) });
    await waitFor(() => alice.of('sfu:new-producer').length === 1, 5000, "bob's producer piped to A");
    expect(alice.of('sfu:new-producer')).toEqual([expect.objectContaining({ producerId: bobMic, userId: 'bob', source: 'mic' })]);
    await onA.room.createTransport(onA.peer, 'recv');
    await onA.room.consume(onA.peer, bobMic, onA.result.routerRtpCapabilities);
    expect(a.nodeLoad()).toEqual({ routers: 1, consumers: 1, peers: 1 });

    // Alice mutes her microphone on A: bob's consumer on B is told; unmuting likewise.
    await onA.room.setPaused(onA.peer, 'producer', micId, true);
    await waitFor(() => bob.of('sfu:producer-paused').length === 1, 5000, 'mute piped to B');
    expect(bob.of('sfu:producer-paused')).toEqual([{ producerId: micId, peerId: onA.peer.peerId, paused: true }]);
    await onA.room.setPaused(onA.peer, 'producer', micId, false);
    await waitFor(() => bob.of('sfu:producer-paused').length === 2, 5000, 'unmute piped to B');
    expect(bob.of('sfu:producer-paused')[1]).toEqual({ producerId: micId, peerId: onA.peer.peerId, paused: false });

    // Bob's downlink on B collapses: his node switches him to audio only, and alice on A sees it on him; his recovery likewise.
    await onB.room.reportStats(onB.peer, { downlinkKbps: 50 });
    await waitFor(() => alice.of('sfu:audio-only').length === 1, 5000, "bob's audio-only switch told on A");
    expect(alice.of('sfu:audio-only')).toEqual([{ peerId: onB.peer.peerId, audioOnly: true, reason: 'low-bandwidth', estimatedKbps: 50 }]);
    expect(onA.room.participants().find((p) => p.info.userId === 'bob')?.info.audioOnly).toBe(true);
    await onB.room.reportStats(onB.peer, { downlinkKbps: 3000 });
    await waitFor(() => alice.of('sfu:audio-only').length === 2, 5000, "bob's recovery told on A");
    expect(alice.of('sfu:audio-only')[1]).toMatchObject({ peerId: onB.peer.peerId, audioOnly: false, reason: 'recovered' });

    // Alice stops her camera on A: bob's consumer on B closes.
    onA.room.closeProducer(onA.peer, camId);
    await waitFor(() => bob.of('sfu:consumer-closed').length === 1, 5000, "bob's camera consumer closed");
    expect(bob.of('sfu:producer-closed')).toContainEqual({ producerId: camId, peerId: onA.peer.peerId });

    // Bob leaves on B: alice is told on A, her consumer of his microphone closes.
    onB.room.removePeer(onB.peer.peerId, 'left');
    await waitFor(() => alice.of('sfu:peer-left').length === 1, 5000, 'alice told bob left');
    expect(alice.of('sfu:peer-left')).toEqual([{ peerId: onB.peer.peerId, userId: 'bob', reason: 'left' }]);
    await waitFor(() => onA.peer.consumers.size === 0, 5000, "alice's consumer of bob closed");
    onA.room.close();
    onB.room.close();
  });

  test('the same user joining on the other node replaces the first session; a dead owner is replaced', async () => {
    const first = recorder();
    const onA = await a.join('carol', 'c-2', first.notify);
    const observer = recorder();
    const onB = await b.join('alice', 'c-2', observer.notify);
    await waitFor(() => onB.room.participants().length === 2, 5000, 'carol seen on B');
    // Carol's client comes back through B (A unreachable to it): her session on A is told it was replaced.
    const again = await b.join('carol', 'c-2', recorder().notify);
    await waitFor(() => first.of('sfu:rejoin').length === 1, 5000, 'old session replaced');
    expect(onA.peer.closed).toBe(true);
    expect(
      again.room
        .participants()
        .map((p) => p.info.userId)
        .sort(),
    ).toEqual(['alice', 'carol']);

    // Node A crashes: its Redis connection is gone and its registration runs out (deleted here
    // rather than waiting NODE_TTL_MS); B finds the owner dead and takes the call over.
    clients[0]!.destroy();
    await clients[1]!.del(mediaNodeKey('node-a'));
    expect(await nodesB.isAlive('node-a')).toBe(false);
    await waitFor(() => b.pipes('c-2')!.state().hub, 15_000, 'B owns the call');
    expect(await clients[1]!.get(roomOwnerKey('c-2'))).toBe('node-b');
    expect(b.pipes('c-2')!.state().links).toEqual([]);
  });
});
