// Smoke test for a mediasoup worker binary (e.g. the one built by scripts/build-mediasoup-worker.sh).
//
//   MEDIASOUP_WORKER_BIN=/path/to/mediasoup-worker node scripts/mediasoup/smoke.mjs [--no-media] [--no-dtls]
//   node scripts/mediasoup/smoke.mjs /path/to/mediasoup-worker            (same, path as argument)
//
// Needs Node >= 22 (source scripts/ensure-node.sh) and the repository's node_modules/mediasoup.
// Exit 0 when every stage that ran passed; non-zero with a message otherwise.
//
// Stages:
//   1. basic (always): worker, router (opus + VP8), WebRtcTransport on 127.0.0.1, worker resource
//      usage, close everything.
//   2. media (when `ffmpeg` is on PATH, unless --no-media): ffmpeg sends VP8 RTP (+ RTCP) into a
//      Producer on PlainTransport A (comedia, rtcpMux false). A Consumer of it on PlainTransport B
//      sends SRTP (AES_CM_128_HMAC_SHA1_80) to PlainTransport C, where a second Producer receives
//      it: this exercises the worker's SRTP encrypt AND decrypt path (the libsrtp 3.0 -> 2.x shim).
//      getStats() byte counts must grow on all three.
//   3. dtls (when `openssl` is on PATH, unless --no-dtls): a minimal ICE client (STUN binding
//      request with USE-CANDIDATE) plus `openssl s_client -dtls1_2 -use_srtp` from the same UDP
//      port complete ICE and a DTLS handshake with the WebRtcTransport. This is the path that
//      crashed the worker with Debian's kTLS-enabled OpenSSL before the DtlsTransport.cpp fix.
import { spawn, execFileSync } from 'node:child_process';
import crypto from 'node:crypto';
import dgram from 'node:dgram';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import zlib from 'node:zlib';

const args = process.argv.slice(2);
const flags = new Set(args.filter((a) => a.startsWith('--')));
const binArg = args.find((a) => !a.startsWith('--'));
if (binArg) process.env.MEDIASOUP_WORKER_BIN = path.resolve(binArg);
const workerBin = process.env.MEDIASOUP_WORKER_BIN;
if (!workerBin) fail('set MEDIASOUP_WORKER_BIN (or pass the binary path as argument)');
if (!fs.existsSync(workerBin)) fail(`worker binary not found: ${workerBin}`);

const log = (...a) => console.log('[smoke]', ...a);
function fail(msg) {
  console.error(`[smoke] FAIL: ${msg}`);
  process.exit(1);
}
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));
const hasCmd = (cmd) => {
  try {
    execFileSync('sh', ['-c', `command -v ${cmd}`], { stdio: 'ignore' });
    return true;
  } catch {
    return false;
  }
};
const withTimeout = (p, ms, what) => Promise.race([p, sleep(ms).then(() => Promise.reject(new Error(`timeout: ${what}`)))]);

// Overall watchdog.
const watchdog = setTimeout(() => fail('overall timeout (90 s)'), 90_000);
watchdog.unref();

// mediasoup reads MEDIASOUP_WORKER_BIN at module load: import it only now.
const mediasoupModule = await import('mediasoup');
const mediasoup = mediasoupModule.default ?? mediasoupModule;
log(`mediasoup ${mediasoup.version}, worker ${workerBin}`);

const mediaCodecs = [
  { kind: 'audio', mimeType: 'audio/opus', clockRate: 48000, channels: 2 },
  { kind: 'video', mimeType: 'video/VP8', clockRate: 90000, parameters: { 'x-google-start-bitrate': 1000 } },
];
const listenInfo = { protocol: 'udp', ip: '127.0.0.1' };

const worker = await mediasoup.createWorker({ logLevel: 'warn', rtcMinPort: 40000, rtcMaxPort: 49999 });
let workerDied = null;
worker.on('died', (err) => {
  workerDied = err;
  console.error('[smoke] worker died:', err);
});
const children = [];
const cleanupChildren = () => children.forEach((c) => c.exitCode === null && c.kill('SIGKILL'));
process.on('exit', cleanupChildren);

try {
  // ---------------------------------------------------------------------------------------- 1.
  const router = await worker.createRouter({ mediaCodecs });
  const codecs = router.rtpCapabilities.codecs.map((c) => c.mimeType);
  if (!codecs.includes('audio/opus') || !codecs.includes('video/VP8')) fail(`router codecs: ${codecs}`);
  const webRtcTransport = await router.createWebRtcTransport({
    listenInfos: [listenInfo, { protocol: 'tcp', ip: '127.0.0.1' }],
    enableUdp: true,
    enableTcp: true,
    preferUdp: true,
  });
  const cands = webRtcTransport.iceCandidates.map((c) => `${c.protocol}:${c.address}:${c.port}`);
  if (!cands.some((c) => c.startsWith('udp:127.0.0.1:'))) fail(`no UDP candidate on 127.0.0.1: ${cands}`);
  if (!webRtcTransport.dtlsParameters.fingerprints.length) fail('no DTLS fingerprints');
  log(`stage basic: router ${router.id}, WebRtcTransport candidates ${cands.join(' ')}`);
  log('worker resource usage:', JSON.stringify(await worker.getResourceUsage()));

  // ---------------------------------------------------------------------------------------- 2.
  if (flags.has('--no-media')) log('stage media: skipped (--no-media)');
  else if (!hasCmd('ffmpeg')) log('stage media: SKIPPED (ffmpeg not on PATH)');
  else await mediaStage(router);

  // ---------------------------------------------------------------------------------------- 3.
  if (flags.has('--no-dtls')) log('stage dtls: skipped (--no-dtls)');
  else if (!hasCmd('openssl')) log('stage dtls: SKIPPED (openssl not on PATH)');
  else await dtlsStage(router);

  log('worker resource usage:', JSON.stringify(await worker.getResourceUsage()));
  if (workerDied) fail(`worker died: ${workerDied}`);
  webRtcTransport.close();
  router.close();
  worker.close();
  if (!worker.closed) fail('worker did not close');
  cleanupChildren();
  log('PASS');
  process.exit(0);
} catch (err) {
  cleanupChildren();
  fail(err?.stack ?? String(err));
}

async function mediaStage(router) {
  const ssrc = 22222222;
  const plainA = await router.createPlainTransport({ listenInfo, rtcpMux: false, comedia: true });
  const producer = await plainA.produce({
    kind: 'video',
    rtpParameters: {
      codecs: [
        {
          mimeType: 'video/VP8',
          payloadType: 101,
          clockRate: 90000,
          rtcpFeedback: [{ type: 'nack' }, { type: 'nack', parameter: 'pli' }, { type: 'ccm', parameter: 'fir' }],
        },
      ],
      encodings: [{ ssrc }],
    },
  });
  const srtp = { rtcpMux: true, comedia: false, enableSrtp: true, srtpCryptoSuite: 'AES_CM_128_HMAC_SHA1_80' };
  const plainB = await router.createPlainTransport({ listenInfo, ...srtp });
  const plainC = await router.createPlainTransport({ listenInfo, ...srtp });
  await plainB.connect({ ip: '127.0.0.1', port: plainC.tuple.localPort, srtpParameters: plainC.srtpParameters });
  await plainC.connect({ ip: '127.0.0.1', port: plainB.tuple.localPort, srtpParameters: plainB.srtpParameters });
  const consumer = await plainB.consume({ producerId: producer.id, rtpCapabilities: router.rtpCapabilities });
  const producerC = await plainC.produce({ kind: 'video', rtpParameters: consumer.rtpParameters });

  const ffmpeg = spawn(
    'ffmpeg',
    [
      '-hide_banner',
      '-loglevel',
      'error',
      '-re',
      '-f',
      'lavfi',
      '-i',
      'testsrc=size=320x240:rate=15',
      '-t',
      '20',
      '-an',
      '-c:v',
      'libvpx',
      '-deadline',
      'realtime',
      '-cpu-used',
      '8',
      '-b:v',
      '300k',
      '-g',
      '15',
      '-ssrc',
      String(ssrc),
      '-payload_type',
      '101',
      '-f',
      'rtp',
      `rtp://127.0.0.1:${plainA.tuple.localPort}?rtcpport=${plainA.rtcpTuple.localPort}&pkt_size=1200`,
    ],
    { stdio: ['ignore', 'ignore', 'inherit'] },
  );
  children.push(ffmpeg);

  const bytes = async () => {
    const [p] = await producer.getStats();
    const c = (await consumer.getStats()).find((s) => s.type === 'outbound-rtp');
    const [pc] = await producerC.getStats();
    return { producerA: p?.byteCount ?? 0, consumerB: c?.byteCount ?? 0, producerC: pc?.byteCount ?? 0, rtt: c?.roundTripTime };
  };
  // Wait until all three counted something, then check that they keep growing.
  let first;
  for (let i = 0; i < 40; i++) {
    await sleep(500);
    if (ffmpeg.exitCode !== null) fail(`ffmpeg exited early with ${ffmpeg.exitCode}`);
    first = await bytes();
    if (first.producerA > 0 && first.consumerB > 0 && first.producerC > 0) break;
  }
  if (!(first.producerA > 0 && first.consumerB > 0 && first.producerC > 0)) fail(`no media flow after 20 s: ${JSON.stringify(first)}`);
  await sleep(2000);
  const second = await bytes();
  for (const k of ['producerA', 'consumerB', 'producerC']) if (!(second[k] > first[k])) fail(`${k} byte count did not grow: ${first[k]} -> ${second[k]}`);
  const [tB] = await plainB.getStats();
  const [tC] = await plainC.getStats();
  log(
    `stage media: bytes ${JSON.stringify(first)} -> ${JSON.stringify(second)}; ` +
      `SRTP transport B sent ${tB.bytesSent} B, C received ${tC.bytesReceived} B` +
      (second.rtt !== undefined ? `; consumer RTT from SRTCP receiver reports ${second.rtt} ms` : ''),
  );
  ffmpeg.kill('SIGKILL');
  plainA.close();
  plainB.close();
  plainC.close();
}

async function dtlsStage(router) {
  const transport = await router.createWebRtcTransport({ listenInfos: [listenInfo] });
  const cand = transport.iceCandidates.find((c) => c.protocol === 'udp');
  const { usernameFragment: serverUfrag, password: serverPwd } = transport.iceParameters;

  // Client certificate and its fingerprint (the worker checks it against dtlsParameters).
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'ms-smoke-'));
  const key = path.join(dir, 'key.pem');
  const cert = path.join(dir, 'cert.pem');
  execFileSync(
    'openssl',
    [
      'req',
      '-x509',
      '-newkey',
      'ec',
      '-pkeyopt',
      'ec_paramgen_curve:prime256v1',
      '-nodes',
      '-subj',
      '/CN=mediasoup-smoke',
      '-days',
      '1',
      '-keyout',
      key,
      '-out',
      cert,
    ],
    { stdio: 'ignore' },
  );
  const fp = execFileSync('openssl', ['x509', '-noout', '-fingerprint', '-sha256', '-in', cert]).toString().trim().split('=')[1];
  await transport.connect({ dtlsParameters: { role: 'client', fingerprints: [{ algorithm: 'sha-256', value: fp }] } });

  const dtlsConnected = new Promise((resolve, reject) => {
    transport.on('dtlsstatechange', (s) => {
      if (s === 'connected') resolve();
      else if (s === 'failed' || s === 'closed') reject(new Error(`DTLS state ${s}`));
    });
  });

  // ICE: STUN binding request with USE-CANDIDATE from a UDP socket; the worker (ICE-lite,
  // controlled) answers and selects that 5-tuple.
  const sock = dgram.createSocket('udp4');
  await new Promise((r) => sock.bind(0, '127.0.0.1', r));
  const localPort = sock.address().port;
  const gotResponse = new Promise((resolve) => sock.once('message', resolve));
  sock.send(stunBindingRequest(`${serverUfrag}:smoke`, serverPwd), cand.port, '127.0.0.1');
  const resp = await withTimeout(gotResponse, 5000, 'STUN binding response');
  if (resp.readUInt16BE(0) !== 0x0101) fail(`unexpected STUN response type 0x${resp.readUInt16BE(0).toString(16)}`);
  await withTimeout(
    (async () => {
      while (!['connected', 'completed'].includes(transport.iceState)) await sleep(50);
    })(),
    5000,
    'ICE connected',
  );
  await new Promise((r) => sock.close(r));

  // DTLS client from the very same local port.
  const sClient = spawn(
    'openssl',
    [
      's_client',
      '-dtls1_2',
      '-connect',
      `127.0.0.1:${cand.port}`,
      '-bind',
      `127.0.0.1:${localPort}`,
      '-cert',
      cert,
      '-key',
      key,
      '-use_srtp',
      'SRTP_AES128_CM_SHA1_80',
      '-quiet',
    ],
    { stdio: ['pipe', 'ignore', 'pipe'] },
  );
  children.push(sClient);
  let sErr = '';
  sClient.stderr.on('data', (d) => (sErr += d));
  try {
    await withTimeout(dtlsConnected, 10_000, 'DTLS connected');
  } catch (err) {
    fail(`${err.message}; worker died: ${workerDied}; openssl: ${sErr.trim().slice(-800)}`);
  }
  await sleep(300);
  if (workerDied) fail('worker died during the DTLS handshake');
  log(
    `stage dtls: ICE ${transport.iceState}, DTLS ${transport.dtlsState} (worker role ${transport.dtlsParameters.role}), ` +
      `selected tuple ${JSON.stringify(transport.iceSelectedTuple)}`,
  );
  sClient.kill('SIGKILL');
  transport.close();
  fs.rmSync(dir, { recursive: true, force: true });
}

// RFC 5389 binding request with USERNAME, PRIORITY, ICE-CONTROLLING, USE-CANDIDATE,
// MESSAGE-INTEGRITY and FINGERPRINT.
function stunBindingRequest(username, password) {
  const attr = (type, value) => {
    const pad = (4 - (value.length % 4)) % 4;
    const b = Buffer.alloc(4 + value.length + pad);
    b.writeUInt16BE(type, 0);
    b.writeUInt16BE(value.length, 2);
    value.copy(b, 4);
    return b;
  };
  const prio = Buffer.alloc(4);
  prio.writeUInt32BE(0x6e7f00ff, 0);
  const attrs = Buffer.concat([attr(0x0006, Buffer.from(username)), attr(0x0024, prio), attr(0x802a, crypto.randomBytes(8)), attr(0x0025, Buffer.alloc(0))]);
  const header = Buffer.alloc(20);
  header.writeUInt16BE(0x0001, 0);
  header.writeUInt32BE(0x2112a442, 4);
  crypto.randomBytes(12).copy(header, 8);
  // MESSAGE-INTEGRITY: HMAC-SHA1 over the message with the length covering the MI attribute.
  header.writeUInt16BE(attrs.length + 24, 2);
  const mi = crypto
    .createHmac('sha1', password)
    .update(Buffer.concat([header, attrs]))
    .digest();
  const withMi = Buffer.concat([attrs, attr(0x0008, mi)]);
  // FINGERPRINT: CRC-32 of the message (length covering it) XOR 0x5354554e.
  header.writeUInt16BE(withMi.length + 8, 2);
  const crc = (zlib.crc32(Buffer.concat([header, withMi])) ^ 0x5354554e) >>> 0;
  const fpv = Buffer.alloc(4);
  fpv.writeUInt32BE(crc, 0);
  return Buffer.concat([header, withMi, attr(0x8028, fpv)]);
}
