/**
 * SFU capacity: how many consumers one mediasoup worker forwards at < 1 % loss, and the worker
 * CPU each consumer costs, for a hoichan call room (ConsultCallRoom: its router with the active-speaker
 * observer and the bandwidth-policy timer) against a bare mediasoup router, in the same run.
 *
 *   npx tsc -p tsconfig.build.json && node dist/bench/sfu-capacity.js [--steps 50,100,200,400] [--seconds 3] [--kbps 800]
 *
 * One synthetic producer: ffmpeg encodes a test pattern to VP8 and sends RTP into a PlainTransport
 * (rtcpMux false, comedia; RTCP to transport.rtcpTuple.localPort). It is fanned out to N consumers,
 * each on its own PlainTransport sending to one UDP sink that counts packets per SSRC. Per step:
 * loss = 1 − received / (N × packets the producer received); worker CPU from /proc/<pid>/stat.
 * Prints a table per arm, then one JSON line.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { createSocket, type Socket } from 'node:dgram';
import { readFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import type { types as ms } from 'mediasoup';
import { createLogger } from '../server/observability/logger';
import { BandwidthPolicy } from '../server/sfu/bandwidth-policy';
import { loadMediasoup, loadSfuConfig, resolveWorkerBin } from '../server/sfu/config';
import { ConsultCallRoom, MEDIA_CODECS } from '../server/sfu/consult-call-room';

interface Args {
  steps: number[];
  seconds: number;
  kbps: number;
}

function parseArgs(argv: string[]): Args {
  const args: Args = { steps: [50, 100, 200, 400], seconds: 3, kbps: 800 };
  for (let i = 0; i < argv.length; i++) {
    const v = argv[i + 1];
    if (argv[i] === '--steps' && v)
      args.steps = v
        .split(',')
        .map(Number)
        .filter((n) => n > 0);
    else if (argv[i] === '--seconds' && v) args.seconds = Number(v);
    else if (argv[i] === '--kbps' && v) args.kbps = Number(v);
    else continue;
    i++;
  }
  return args;
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const CLK_TCK = 100;

function cpuSeconds(pid: number): number {
  const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  return (Number(fields[11]) + Number(fields[12])) / CLK_TCK; // utime + stime
}

function rssMb(pid: number): number {
  const m = /VmRSS:\s+(\d+)/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
  return m ? Number(m[1]) / 1024 : 0;
}

class RtpSink {
  readonly socket: Socket;
  readonly counts = new Map<number, number>();

  private constructor(socket: Socket) {
    this.socket = socket;
    socket.on('message', (msg) => {
      if (msg.length < 12) return;
      const pt = msg[1]! & 0x7f;
      if (pt >= 64 && pt <= 95) return; // RTCP
      const ssrc = msg.readUInt32BE(8);
      this.counts.set(ssrc, (this.counts.get(ssrc) ?? 0) + 1);
    });
  }

  static async open(): Promise<RtpSink> {
    const socket = createSocket('udp4');
    await new Promise<void>((r) => socket.bind(0, '127.0.0.1', () => r()));
    try {
      socket.setRecvBufferSize(16 * 1024 * 1024);
    } catch {
      /* capped by net.core.rmem_max */
    }
    return new RtpSink(socket);
  }

  get port(): number {
    return this.socket.address().port;
  }

  close(): void {
    this.socket.close();
  }
}

interface Step {
  consumers: number;
  lossPct: number;
  workerCpuPct: number;
  cpuPerConsumerMs: number;
  /** Worker CPU per forwarded packet (robust to the producer's rate varying on a loaded machine). */
  cpuPerPacketUs: number;
  producerPps: number;
  rssMb: number;
}

async function runArm(
  name: 'bare mediasoup' | 'hoichan room',
  mediasoup: typeof import('mediasoup'),
  workerBin: string | undefined,
  args: Args,
): Promise<{ name: string; steps: Step[]; maxConsumersUnder1Pct: number; idleCpuPct: number }> {
  const worker = await mediasoup.createWorker({ logLevel: 'error', ...(workerBin ? { workerBin } : {}) });
  let room: ConsultCallRoom | null = null;
  let router: ms.Router | null = null;
  const plain = (o: ms.PlainTransportOptions) => (room ? room.createPlainTransport(o) : router!.createPlainTransport(o));
  if (name === 'hoichan room') {
    const config = loadSfuConfig({ SFU_WORKERS: '1' }, 'test');
    room = await ConsultCallRoom.create({
      consultId: 'bench',
      worker,
      workerIndex: 0,
      config,
      policy: new BandwidthPolicy({ audioOnlyBelowKbps: 150, audioOnlyRecoverAboveKbps: 250 }),
      logger: createLogger('silent'),
    });
  } else {
    router = await worker.createRouter({ mediaCodecs: MEDIA_CODECS });
  }
  const rtpCapabilities = room ? room.routerRtpCapabilities : router!.rtpCapabilities;
  const listenInfo = { protocol: 'udp' as const, ip: '127.0.0.1' };
  const ingest = await plain({ listenInfo, rtcpMux: false, comedia: true });
  const ssrc = 22222222;
  const producer = await ingest.produce({
    kind: 'video',
    rtpParameters: {
      codecs: [{ mimeType: 'video/VP8', payloadType: 101, clockRate: 90000, rtcpFeedback: [{ type: 'nack' }, { type: 'nack', parameter: 'pli' }] }],
      encodings: [{ ssrc }],
    },
  });
  const ffmpeg: ChildProcess = spawn(
    'ffmpeg',
    [
      '-nostdin',
      '-loglevel',
      'error',
      '-re',
      '-f',
      'lavfi',
      '-i',
      'testsrc2=size=320x240:rate=30',
      // Cheap to encode (the bench measures the SFU, not libvpx) and a key frame every 0.5 s, so
      // new consumers (which wait for one: ffmpeg ignores PLI) start quickly.
      '-c:v',
      'libvpx',
      '-deadline',
      'realtime',
      '-cpu-used',
      '16',
      '-lag-in-frames',
      '0',
      '-auto-alt-ref',
      '0',
      '-b:v',
      `${args.kbps}k`,
      '-minrate',
      `${args.kbps}k`,
      '-maxrate',
      `${args.kbps}k`,
      '-g',
      '15',
      '-an',
      '-ssrc',
      String(ssrc),
      '-payload_type',
      '101',
      '-f',
      'rtp',
      `rtp://127.0.0.1:${ingest.tuple.localPort}?rtcpport=${ingest.rtcpTuple!.localPort}&pkt_size=1100`,
    ],
    { stdio: ['ignore', 'ignore', 'inherit'] },
  );
  const sink = await RtpSink.open();
  const consumers: Array<{ transport: ms.PlainTransport; consumer: ms.Consumer; ssrc: number }> = [];
  const producerPackets = async () => (await producer.getStats()).reduce((n, s) => n + s.packetCount, 0);
  const steps: Step[] = [];
  let maxUnder = 0;
  try {
    // Wait for media, then the idle CPU with the producer only.
    for (let i = 0; i < 50 && (await producerPackets()) === 0; i++) await sleep(200);
    if ((await producerPackets()) === 0) throw new Error('ffmpeg sent nothing into the PlainTransport');
    let cpu0 = cpuSeconds(worker.pid);
    let t0 = performance.now();
    await sleep(2000);
    const idleCpuPct = ((cpuSeconds(worker.pid) - cpu0) / ((performance.now() - t0) / 1000)) * 100;
    for (const n of args.steps) {
      while (consumers.length < n) {
        const transport = await plain({ listenInfo, rtcpMux: true, comedia: false });
        await transport.connect({ ip: '127.0.0.1', port: sink.port });
        const consumer = await transport.consume({ producerId: producer.id, rtpCapabilities, paused: false });
        consumers.push({ transport, consumer, ssrc: consumer.rtpParameters.encodings![0]!.ssrc! });
      }
      // Settle: every consumer has had its first key frame (at most 5 s).
      for (let i = 0; i < 50 && consumers.some((c) => !sink.counts.get(c.ssrc)); i++) await sleep(100);
      await sleep(500);
      const before = new Map(consumers.map((c) => [c.ssrc, sink.counts.get(c.ssrc) ?? 0]));
      const p0 = await producerPackets();
      cpu0 = cpuSeconds(worker.pid);
      t0 = performance.now();
      await sleep(args.seconds * 1000);
      const wall = (performance.now() - t0) / 1000;
      const cpuUsed = cpuSeconds(worker.pid) - cpu0;
      const cpuPct = (cpuUsed / wall) * 100;
      const produced = (await producerPackets()) - p0;
      await sleep(200); // packets in flight
      let received = 0;
      for (const c of consumers) received += (sink.counts.get(c.ssrc) ?? 0) - (before.get(c.ssrc) ?? 0);
      const expected = produced * consumers.length;
      const lossPct = expected > 0 ? Math.max(0, (1 - received / expected) * 100) : 100;
      const step: Step = {
        consumers: n,
        lossPct: round(lossPct, 2),
        workerCpuPct: round(cpuPct, 1),
        cpuPerConsumerMs: round(((cpuPct - idleCpuPct) / 100 / n) * 1000, 3),
        cpuPerPacketUs: received > 0 ? round((cpuUsed / received) * 1e6, 2) : NaN,
        producerPps: round(produced / wall, 0),
        rssMb: round(rssMb(worker.pid), 1),
      };
      steps.push(step);
      process.stdout.write(
        `  [${name}] ${n} consumers: loss ${step.lossPct}%  worker CPU ${step.workerCpuPct}%  ${step.cpuPerConsumerMs} ms CPU/s per consumer  ${step.cpuPerPacketUs} µs/forwarded packet  producer ${step.producerPps} pkt/s  RSS ${step.rssMb} MB\n`,
      );
      if (lossPct < 1) maxUnder = n;
      else break;
    }
    return { name, steps, maxConsumersUnder1Pct: maxUnder, idleCpuPct: round(idleCpuPct, 1) };
  } finally {
    ffmpeg.kill('SIGTERM');
    sink.close();
    room?.close();
    worker.close();
  }
}

function round(v: number, digits: number): number {
  const f = 10 ** digits;
  return Math.round(v * f) / f;
}

async function main(): Promise<void> {
  const args = parseArgs(process.argv.slice(2));
  const cacheDir = process.env.HOICHAN_CACHE ?? path.join(os.homedir(), '.cache', 'hoichan');
  const workerBin = resolveWorkerBin(process.env.MEDIASOUP_WORKER_BIN, cacheDir);
  const mediasoup = loadMediasoup(workerBin);
  process.stdout.write(`SFU capacity: 1 worker, VP8 ${args.kbps} kbps from ffmpeg, PlainTransport consumers, ${args.seconds} s per step\n`);
  process.stdout.write(
    `machine: ${os.cpus()[0]?.model ?? '?'} × ${os.cpus().length}, load ${os
      .loadavg()
      .map((l) => l.toFixed(1))
      .join(' ')}; worker ${workerBin ?? '(prebuilt)'}\n`,
  );
  const results = [];
  for (const arm of ['bare mediasoup', 'hoichan room'] as const) results.push(await runArm(arm, mediasoup, workerBin, args));
  process.stdout.write('\narm              max consumers <1% loss   CPU per consumer (ms/s, at max)   µs per forwarded packet (median)   idle worker CPU\n');
  for (const r of results) {
    const at = r.steps.find((s) => s.consumers === r.maxConsumersUnder1Pct);
    const perPacket = r.steps
      .map((s) => s.cpuPerPacketUs)
      .filter(Number.isFinite)
      .sort((a, b) => a - b);
    const median = perPacket[Math.floor(perPacket.length / 2)];
    process.stdout.write(
      `${r.name.padEnd(17)}${String(r.maxConsumersUnder1Pct).padEnd(25)}${String(at?.cpuPerConsumerMs ?? '-').padEnd(34)}${String(median ?? '-').padEnd(35)}${r.idleCpuPct}%\n`,
    );
  }
  process.stdout.write(
    `${JSON.stringify({ bench: 'sfu-capacity', machine: { cpu: os.cpus()[0]?.model, cores: os.cpus().length, load: os.loadavg() }, args, results })}\n`,
  );
}

main().catch((err: unknown) => {
  process.stderr.write(`sfu-capacity failed: ${(err as Error).stack ?? String(err)}\n`);
  process.exit(1);
});
