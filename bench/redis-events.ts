/**
 * Realtime events through the socket.io Redis adapter against socket.io's in-process adapter:
 * sustained events per second delivered, the latency of one event, and the server CPU per event.
 *
 *   npx tsc -p tsconfig.build.json && node dist/bench/redis-events.js [--clients 50] [--seconds 5] [--latency 2000] [--payload 200]
 *
 * In process: one socket.io server, `--clients` socket.io-client connections (WebSocket), each in
 * its own user room (`user:<i>`, as the platform addresses a user); the server emits to the rooms
 * in turn. Through Redis: Debian's redis-server on loopback, two socket.io servers with the
 * adapter the platform uses (`@socket.io/redis-adapter`, key `hoichan:socket.io`); the clients are
 * on server B, the events are emitted on server A and reach B through Redis. Throughput: as fast as
 * the clients take them, at most `WINDOW` events in flight, for `--seconds`; latency: `--latency`
 * events one at a time, emit → client. CPU: this process (servers and clients) per event, and
 * redis-server's from /proc. Prints a table and one JSON line.
 */
import { createAdapter } from '@socket.io/redis-adapter';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { createServer, type Server as HttpServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { createClient } from 'redis';
import { Server } from 'socket.io';
import { io as connect, type Socket } from 'socket.io-client';
import { startLocalRedis } from '../server/platform/local-cluster';

interface Args {
  clients: number;
  seconds: number;
  latency: number;
  payload: number;
}

function parseArgs(argv: string[]): Args {
  const args: Args = { clients: 50, seconds: 5, latency: 2000, payload: 200 };
  for (let i = 0; i < argv.length; i++) {
    const v = Number(argv[i + 1]);
    const key = argv[i]?.replace(/^--/, '') as keyof Args;
    if (key in args && Number.isFinite(v) && v > 0) {
      args[key] = v;
      i++;
    }
  }
  return args;
}

/** Events emitted but not yet received, at most (the clients set the pace, not an unbounded queue). */
const WINDOW = 2000;
const CLK_TCK = 100;

function cpuSecondsOf(pid: number): number {
  const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  return (Number(fields[11]) + Number(fields[12])) / CLK_TCK;
}

const ownCpuS = () => {
  const u = process.cpuUsage();
  return (u.user + u.system) / 1e6;
};

async function listen(): Promise<{ http: HttpServer; io: Server; port: number }> {
  const http = createServer();
  const io = new Server(http, { transports: ['websocket'] });
  await new Promise<void>((r) => http.listen(0, '127.0.0.1', () => r()));
  return { http, io, port: (http.address() as AddressInfo).port };
}

interface Arm {
  name: string;
  /** Emits one event to user room `i`. */
  emit(i: number, payload: unknown): void;
  clients: Socket[];
  close(): Promise<void>;
  redisPid?: number;
}

async function connectClients(port: number, n: number, onEvent: (i: number, sentAt: number) => void): Promise<Socket[]> {
  const sockets: Socket[] = [];
  for (let i = 0; i < n; i++) {
    const s = connect(`http://127.0.0.1:${port}`, { transports: ['websocket'], query: { user: String(i) }, reconnection: false });
    s.on('ev', (p: { sentAt: number }) => onEvent(i, p.sentAt));
    await new Promise<void>((resolve, reject) => {
      s.once('joined', () => resolve());
      s.once('connect_error', reject);
    });
    sockets.push(s);
  }
  return sockets;
}

/** Puts each connecting socket in its user room, then tells it (so the bench starts only when every room is joined). */
function joinUserRooms(io: Server): void {
  io.on('connection', (socket) => {
    const user = typeof socket.handshake.query.user === 'string' ? socket.handshake.query.user : '0';
    void Promise.resolve(socket.join(`user:${user}`)).then(() => socket.emit('joined'));
  });
}

async function inProcessArm(args: Args, onEvent: (i: number, sentAt: number) => void): Promise<Arm> {
  const s = await listen();
  joinUserRooms(s.io);
  const clients = await connectClients(s.port, args.clients, onEvent);
  return {
    name: 'in process',
    emit: (i, payload) => s.io.to(`user:${i}`).emit('ev', payload),
    clients,
    async close() {
      for (const c of clients) c.disconnect();
      await s.io.close();
    },
  };
}

async function redisArm(args: Args, redisUrl: string, redisPid: number, onEvent: (i: number, sentAt: number) => void): Promise<Arm> {
  const conns: Array<ReturnType<typeof createClient>> = [];
  const adapter = async () => {
    const pub = createClient({ url: redisUrl });
    const sub = pub.duplicate();
    await Promise.all([pub.connect(), sub.connect()]);
    conns.push(pub, sub);
    return createAdapter(pub, sub, { key: 'hoichan:socket.io' });
  };
  const a = await listen();
  const b = await listen();
  a.io.adapter(await adapter());
  b.io.adapter(await adapter());
  joinUserRooms(b.io);
  const clients = await connectClients(b.port, args.clients, onEvent);
  return {
    name: 'through Redis (emit on A, sockets on B)',
    emit: (i, payload) => a.io.to(`user:${i}`).emit('ev', payload),
    clients,
    redisPid,
    async close() {
      for (const c of clients) c.disconnect();
      await a.io.close();
      await b.io.close();
      for (const c of conns) await c.close().catch(() => undefined);
    },
  };
}

interface Result {
  arm: string;
  eventsPerS: number;
  latencyP50Us: number;
  latencyP95Us: number;
  /** CPU of this process (servers + clients) per delivered event. */
  nodeCpuUsPerEvent: number;
  redisCpuUsPerEvent: number | null;
}

async function measure(args: Args, make: (onEvent: (i: number, sentAt: number) => void) => Promise<Arm>): Promise<Result> {
  let received = 0;
  let lastLatencyUs = 0;
  let waiter: (() => void) | null = null;
  const arm = await make((_i, sentAt) => {
    received++;
    lastLatencyUs = (performance.now() - sentAt) * 1000;
    waiter?.();
  });
  const filler = 'x'.repeat(args.payload);
  const yieldNow = () => new Promise<void>((r) => setImmediate(r));
  try {
    // Warm up.
    for (let i = 0; i < 500; i++) arm.emit(i % args.clients, { sentAt: performance.now(), text: filler });
    while (received < 500) await yieldNow();

    // Throughput: keep WINDOW in flight for args.seconds.
    received = 0;
    let sent = 0;
    const cpu0 = ownCpuS();
    const redis0 = arm.redisPid ? cpuSecondsOf(arm.redisPid) : 0;
    const t0 = performance.now();
    const until = t0 + args.seconds * 1000;
    while (performance.now() < until) {
      while (sent - received < WINDOW) {
        arm.emit(sent % args.clients, { sentAt: performance.now(), text: filler });
        sent++;
      }
      await yieldNow();
    }
    while (received < sent) await yieldNow();
    const elapsedS = (performance.now() - t0) / 1000;
    const cpuS = ownCpuS() - cpu0;
    const redisCpuS = arm.redisPid ? cpuSecondsOf(arm.redisPid) - redis0 : null;
    const eventsPerS = received / elapsedS;

    // Latency: one event at a time.
    const samples: number[] = [];
    for (let k = 0; k < args.latency; k++) {
      const got = new Promise<void>((r) => (waiter = r));
      arm.emit(k % args.clients, { sentAt: performance.now(), text: filler });
      await got;
      waiter = null;
      samples.push(lastLatencyUs);
    }
    samples.sort((x, y) => x - y);
    const pct = (p: number) => samples[Math.min(samples.length - 1, Math.floor((p / 100) * samples.length))] ?? 0;
    return {
      arm: arm.name,
      eventsPerS: Math.round(eventsPerS),
      latencyP50Us: Math.round(pct(50)),
      latencyP95Us: Math.round(pct(95)),
      nodeCpuUsPerEvent: Math.round((cpuS / received) * 1e6 * 10) / 10,
      redisCpuUsPerEvent: redisCpuS === null ? null : Math.round((redisCpuS / received) * 1e6 * 10) / 10,
    };
  } finally {
    await arm.close();
  }
}

async function main(): Promise<void> {
  const args = parseArgs(process.argv.slice(2));
  const dir = mkdtempSync(path.join(os.tmpdir(), 'hoichan-bench-redis-'));
  const redis = await startLocalRedis(dir);
  try {
    const local = await measure(args, (onEvent) => inProcessArm(args, onEvent));
    const viaRedis = await measure(args, (onEvent) => redisArm(args, redis.url, redis.child.pid!, onEvent));
    const rows = [local, viaRedis];
    const load = os.loadavg()[0]?.toFixed(1);
    process.stdout.write(
      `\nsocket.io events to user rooms: ${args.clients} clients, ${args.payload}-byte payload, ${args.seconds} s sustained (≤ ${WINDOW} in flight), ${args.latency} one-at-a-time; ${os.availableParallelism()} CPUs, load ${load}\n\n`,
    );
    process.stdout.write('| arm | events/s | latency p50 | latency p95 | node CPU per event | redis-server CPU per event |\n|---|---|---|---|---|---|\n');
    for (const r of rows) {
      process.stdout.write(
        `| ${r.arm} | ${r.eventsPerS.toLocaleString('en')} | ${r.latencyP50Us} µs | ${r.latencyP95Us} µs | ${r.nodeCpuUsPerEvent} µs | ${r.redisCpuUsPerEvent ?? '—'}${r.redisCpuUsPerEvent === null ? '' : ' µs'} |\n`,
      );
    }
    const overhead = {
      latencyUs: viaRedis.latencyP50Us - local.latencyP50Us,
      nodeCpuUs: Math.round((viaRedis.nodeCpuUsPerEvent - local.nodeCpuUsPerEvent) * 10) / 10,
      redisCpuUs: viaRedis.redisCpuUsPerEvent,
    };
    process.stdout.write(
      `\nper-event overhead of Redis: +${overhead.latencyUs} µs latency (p50), +${overhead.nodeCpuUs} µs Node CPU (publish on A, decode on B), ${overhead.redisCpuUs} µs redis-server CPU\n`,
    );
    process.stdout.write(`${JSON.stringify({ bench: 'redis-events', args, loadavg1: Number(load), results: rows, overhead })}\n`);
  } finally {
    redis.child.kill('SIGTERM');
    rmSync(dir, { recursive: true, force: true });
  }
}

main().then(
  () => process.exit(0),
  (err: unknown) => {
    process.stderr.write(`${err instanceof Error ? (err.stack ?? err.message) : String(err)}\n`);
    process.exit(1);
  },
);
