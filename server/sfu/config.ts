/**
 * Settings of the live consult call, read once from the environment by createSfuFeature (the
 * platform's HoichanConfig does not carry them). Documented in docs/sfu.md.
 */
import { existsSync, readFileSync, readdirSync, statSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { z } from 'zod';

const optionalString = z
  .string()
  .transform((s) => s.trim())
  .optional()
  .transform((s) => (s ? s : undefined));

const envSchema = z.object({
  SFU_WORKERS: z.coerce.number().int().min(1).max(64).optional(),
  SFU_LISTEN_IP: optionalString,
  SFU_ANNOUNCED_ADDRESS: optionalString,
  SFU_RTC_MIN_PORT: z.coerce.number().int().min(1024).max(65535).default(40000),
  SFU_RTC_MAX_PORT: z.coerce.number().int().min(1024).max(65535).default(49999),
  SFU_MAX_INCOMING_BITRATE: z.coerce.number().int().min(100_000).default(1_500_000),
  SFU_INITIAL_OUTGOING_BITRATE: z.coerce.number().int().min(100_000).default(600_000),
  /** Server-side cap on what the SFU sends to each participant (kbps), e.g. to spare a shared clinic uplink; unset = no cap. */
  SFU_MAX_OUTGOING_KBPS: z.coerce.number().int().min(50).max(100_000).optional(),
  SFU_AUDIO_ONLY_KBPS: z.coerce.number().min(10).default(150),
  SFU_AUDIO_ONLY_RECOVER_KBPS: z.coerce.number().min(10).default(250),
  SFU_POLICY_INTERVAL_MS: z.coerce.number().int().min(200).max(60_000).default(2000),
  SFU_RECONNECT_GRACE_S: z.coerce.number().min(0).max(600).default(15),
  SFU_LOG_LEVEL: z.enum(['debug', 'warn', 'error', 'none']).default('warn'),
  TURN_URLS: optionalString,
  TURN_SECRET: optionalString,
  TURN_TTL_S: z.coerce.number().int().min(60).max(7 * 24 * 3600).default(6 * 3600),
  MEDIASOUP_WORKER_BIN: optionalString,
});

export interface SfuConfig {
  workers: number;
  listenIp: string;
  announcedAddress: string | undefined;
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

/** Validates the SFU variables. `platformEnv` is HoichanConfig.env (test → loopback by default). */
export function loadSfuConfig(env: NodeJS.ProcessEnv, platformEnv: 'development' | 'test' | 'production'): SfuConfig {
  const parsed = envSchema.safeParse(env);
  if (!parsed.success) {
    throw new SfuConfigError(parsed.error.issues.map((i) => `${i.path.join('.')}: ${i.message} (got ${JSON.stringify(env[String(i.path[0])])})`));
  }
  const e = parsed.data;
  const problems: string[] = [];
  if (e.SFU_RTC_MAX_PORT <= e.SFU_RTC_MIN_PORT) problems.push('SFU_RTC_MAX_PORT: must be greater than SFU_RTC_MIN_PORT');
  if (e.SFU_AUDIO_ONLY_RECOVER_KBPS <= e.SFU_AUDIO_ONLY_KBPS) problems.push('SFU_AUDIO_ONLY_RECOVER_KBPS: must be greater than SFU_AUDIO_ONLY_KBPS (hysteresis)');
  const turnUrls = (e.TURN_URLS ?? '').split(',').map((u) => u.trim()).filter(Boolean);
  for (const u of turnUrls) if (!/^turns?:/.test(u) && !/^stun:/.test(u)) problems.push(`TURN_URLS: "${u}" is not a turn:, turns: or stun: URL`);
  if (turnUrls.some((u) => u.startsWith('turn')) && !e.TURN_SECRET) problems.push('TURN_SECRET: required when TURN_URLS names a TURN server');
  if (problems.length) throw new SfuConfigError(problems);
  return {
    workers: e.SFU_WORKERS ?? Math.max(1, os.availableParallelism()),
    listenIp: e.SFU_LISTEN_IP ?? (platformEnv === 'test' ? '127.0.0.1' : '0.0.0.0'),
    announcedAddress: e.SFU_ANNOUNCED_ADDRESS,
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
