/**
 * Settings of the live consult call, derived once at start from the SFU_* / TURN_* variables that
 * server/config.ts validated (HoichanConfig.sfu). Documented in docs/sfu.md.
 */
import { existsSync, readFileSync, readdirSync, statSync } from 'node:fs';
import { isIP } from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { sfuEnvSchema, type SfuEnv } from '../config';

export interface SfuConfig {
  workers: number;
  listenIp: string;
  /** The address put in ICE candidates: always set (see resolveAnnouncedAddress). */
  announcedAddress: string;
  /** Why that address (for the startup log). */
  announcedAddressSource: string;
  rtcMinPort: number;
  rtcMaxPort: number;
  maxIncomingBitrate: number;
  initialAvailableOutgoingBitrate: number;
  /** Cap (kbps) on each receive transport; the send-side estimate never exceeds it, so the audio-only policy sees it. */
  maxOutgoingKbps?: number;
  audioOnlyBelowKbps: number;
  audioOnlyRecoverAboveKbps: number;
  policyIntervalMs: number;
  reconnectGraceMs: number;
  workerLogLevel: 'debug' | 'warn' | 'error' | 'none';
  turn: { urls: string[]; secret: string | undefined; ttlS: number };
  /** Explicit worker binary (env MEDIASOUP_WORKER_BIN); undefined = look in the cache, else mediasoup's own. */
  workerBin: string | undefined;
}

export class SfuConfigError extends Error {
  constructor(problems: string[]) {
    super(`Invalid SFU configuration:\n${problems.map((p) => `  - ${p}`).join('\n')}`);
    this.name = 'SfuConfigError';
  }
}

/** Addresses no browser can send to: unspecified, "this network", broadcast, multicast, reserved. */
export function unroutableReason(address: string): string | undefined {
  const v = isIP(address);
  if (v === 4) {
    const [a = 0, b = 0, c = 0, d = 0] = address.split('.').map(Number);
    if (a === 0) return `${address} is "this host/network" (0.0.0.0/8): browsers cannot send to it`;
    if (a === 255 && b === 255 && c === 255 && d === 255) return `${address} is the broadcast address`;
    if (a >= 224 && a <= 239) return `${address} is a multicast address`;
    if (a >= 240) return `${address} is reserved (240.0.0.0/4)`;
    return undefined;
  }
  if (v === 6) {
    const lower = address.toLowerCase();
    if (lower === '::' || /^0*(:0*)*::?(0*:)*0*$/.test(lower)) return `${address} is the unspecified IPv6 address`;
    if (lower.startsWith('ff')) return `${address} is a multicast address`;
    return undefined;
  }
  return undefined; // a host name: resolved by the browser
}

/** Listen addresses that mean "every interface" (then an address to announce must be chosen). */
const ALL_INTERFACES = new Set(['0.0.0.0', '::']);

type Interfaces = ReturnType<typeof os.networkInterfaces>;

/**
 * The address the SFU puts in its ICE candidates, and why:
 * - SFU_ANNOUNCED_ADDRESS when given (an IP or a host name; behind NAT, the public address);
 * - else SFU_LISTEN_IP when it names one address (mediasoup announces it as it is);
 * - else (listening on all interfaces) the machine's first non-internal, non-link-local IPv4, as
 *   mediasoup-demo does;
 * - else, on a machine with no network but loopback, 127.0.0.1 (calls only from this machine).
 * An unroutable address (0.0.0.0, ::, broadcast, multicast) is an error naming the variable.
 */
export function resolveAnnouncedAddress(
  listenIp: string,
  announced: string | undefined,
  interfaces: Interfaces = os.networkInterfaces(),
): { address: string; source: string } {
  if (announced) {
    const why = unroutableReason(announced);
    if (why) throw new SfuConfigError([`SFU_ANNOUNCED_ADDRESS: ${why}; set the address clients reach this server at (its LAN or public IP, or a host name)`]);
    return { address: announced, source: 'SFU_ANNOUNCED_ADDRESS' };
  }
  if (!ALL_INTERFACES.has(listenIp)) return { address: listenIp, source: 'SFU_LISTEN_IP' };
  for (const [name, addrs] of Object.entries(interfaces)) {
    for (const a of addrs ?? []) {
      if (a.family === 'IPv4' && !a.internal && !a.address.startsWith('169.254.')) return { address: a.address, source: `first non-internal IPv4 (${name})` };
    }
  }
  return { address: '127.0.0.1', source: 'no non-internal IPv4 on this machine: loopback, calls only from this machine (set SFU_ANNOUNCED_ADDRESS)' };
}

/** Validates SFU variables given as text (tests, benches); the server passes HoichanConfig.sfu to sfuConfigFrom. */
export function loadSfuConfig(env: Record<string, string | undefined>, platformEnv: 'development' | 'test' | 'production', interfaces?: Interfaces): SfuConfig {
  const parsed = sfuEnvSchema.safeParse(env);
  if (!parsed.success) {
    throw new SfuConfigError(parsed.error.issues.map((i) => `${i.path.join('.')}: ${i.message} (got ${JSON.stringify(env[String(i.path[0])])})`));
  }
  return sfuConfigFrom(parsed.data, platformEnv, interfaces);
}

/**
 * Checks how the validated SFU variables fit together and derives the call settings.
 * `platformEnv` is HoichanConfig.env (test → loopback by default).
 * `interfaces` (default: this machine's) decides the default announced address.
 */
export function sfuConfigFrom(e: SfuEnv, platformEnv: 'development' | 'test' | 'production', interfaces?: Interfaces): SfuConfig {
  const problems: string[] = [];
  if (e.SFU_RTC_MAX_PORT <= e.SFU_RTC_MIN_PORT) problems.push('SFU_RTC_MAX_PORT: must be greater than SFU_RTC_MIN_PORT');
  if (e.SFU_AUDIO_ONLY_RECOVER_KBPS <= e.SFU_AUDIO_ONLY_KBPS)
    problems.push('SFU_AUDIO_ONLY_RECOVER_KBPS: must be greater than SFU_AUDIO_ONLY_KBPS (hysteresis)');
  const turnUrls = (e.TURN_URLS ?? '')
    .split(',')
    .map((u) => u.trim())
    .filter(Boolean);
  for (const u of turnUrls) if (!/^turns?:/.test(u) && !/^stun:/.test(u)) problems.push(`TURN_URLS: "${u}" is not a turn:, turns: or stun: URL`);
  if (turnUrls.some((u) => u.startsWith('turn')) && !e.TURN_SECRET) problems.push('TURN_SECRET: required when TURN_URLS names a TURN server');
  const listenIp = e.SFU_LISTEN_IP ?? (platformEnv === 'test' ? '127.0.0.1' : '0.0.0.0');
  if (isIP(listenIp) === 0) problems.push(`SFU_LISTEN_IP: "${listenIp}" is not an IP address`);
  else if (!ALL_INTERFACES.has(listenIp) && unroutableReason(listenIp)) problems.push(`SFU_LISTEN_IP: ${unroutableReason(listenIp)}`);
  if (problems.length) throw new SfuConfigError(problems);
  const announced = resolveAnnouncedAddress(listenIp, e.SFU_ANNOUNCED_ADDRESS, interfaces);
  return {
    workers: e.SFU_WORKERS ?? Math.max(1, os.availableParallelism()),
    listenIp,
    announcedAddress: announced.address,
    announcedAddressSource: announced.source,
    rtcMinPort: e.SFU_RTC_MIN_PORT,
    rtcMaxPort: e.SFU_RTC_MAX_PORT,
    maxIncomingBitrate: e.SFU_MAX_INCOMING_BITRATE,
    initialAvailableOutgoingBitrate: e.SFU_INITIAL_OUTGOING_BITRATE,
    maxOutgoingKbps: e.SFU_MAX_OUTGOING_KBPS,
    audioOnlyBelowKbps: e.SFU_AUDIO_ONLY_KBPS,
    audioOnlyRecoverAboveKbps: e.SFU_AUDIO_ONLY_RECOVER_KBPS,
    policyIntervalMs: e.SFU_POLICY_INTERVAL_MS,
    reconnectGraceMs: e.SFU_RECONNECT_GRACE_S * 1000,
    workerLogLevel: e.SFU_LOG_LEVEL,
    turn: { urls: turnUrls, secret: e.TURN_SECRET, ttlS: e.TURN_TTL_S },
    workerBin: e.MEDIASOUP_WORKER_BIN,
  };
}

/** The installed mediasoup version, read from its package.json without loading mediasoup itself. */
export function installedMediasoupVersion(): string {
  // package.json is not in mediasoup's "exports": find it from the entry point (node/lib/index.js).
  let dir = path.dirname(require.resolve('mediasoup'));
  while (!existsSync(path.join(dir, 'package.json'))) {
    const up = path.dirname(dir);
    if (up === dir) throw new Error('cannot find mediasoup/package.json');
    dir = up;
  }
  return (JSON.parse(readFileSync(path.join(dir, 'package.json'), 'utf8')) as { version: string }).version;
}

/**
 * Which worker binary to use: MEDIASOUP_WORKER_BIN when given, else the newest
 * `<cacheDir>/mediasoup-worker-<version>-*\/mediasoup-worker` built by
 * scripts/build-mediasoup-worker.sh, else undefined (mediasoup's own prebuilt worker).
 */
export function resolveWorkerBin(explicit: string | undefined, cacheDir: string, version = installedMediasoupVersion()): string | undefined {
  if (explicit) return explicit;
  if (!existsSync(cacheDir)) return undefined;
  const prefix = `mediasoup-worker-${version}-`;
  const candidates = readdirSync(cacheDir, { withFileTypes: true })
    .filter((d) => d.isDirectory() && d.name.startsWith(prefix))
    .map((d) => path.join(cacheDir, d.name, 'mediasoup-worker'))
    .filter((bin) => existsSync(bin))
    .map((bin) => ({ bin, mtime: statSync(bin).mtimeMs }))
    .sort((a, b) => b.mtime - a.mtime);
  return candidates[0]?.bin;
}

/**
 * Sets process.env.MEDIASOUP_WORKER_BIN (mediasoup reads it once, when first loaded) and then
 * loads mediasoup. Call this, never a top-level `import 'mediasoup'`, in code that runs first.
 */
export function loadMediasoup(workerBin: string | undefined): typeof import('mediasoup') {
  if (workerBin) process.env.MEDIASOUP_WORKER_BIN = workerBin;
  // eslint-disable-next-line @typescript-eslint/no-require-imports
  return require('mediasoup') as typeof import('mediasoup');
}
