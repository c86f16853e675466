/**
 * Debian's coturn for tests and benches: one TURN server with REST (HMAC) credentials, no TLS,
 * listening and relaying on one address. Resolves once coturn says its listeners are open.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync } from 'node:fs';

export const TURNSERVER = '/usr/bin/turnserver';

export const coturnInstalled = (): boolean => existsSync(TURNSERVER);

export interface CoturnOptions {
  /** Address to listen and relay on (loopback, or a lab gateway). */
  ip: string;
  port: number;
  secret: string;
  /** Relay port range. */
  minPort?: number;
  maxPort?: number;
  /** Loopback peers are refused by default; a server on 127.0.0.1 needs them. */
  allowLoopbackPeers?: boolean;
}

export interface Coturn {
  process: ChildProcess;
  /** What coturn has printed so far (for a failing test's message). */
  log(): string;
  stop(): void;
}

export function coturnArgs(o: CoturnOptions): string[] {
  return [
    '-n',
    '--use-auth-secret',
    '--static-auth-secret',
    o.secret,
    '--realm',
    'hoichan',
    '--listening-ip',
    o.ip,
    '--relay-ip',
    o.ip,
    '--listening-port',
    String(o.port),
    '--min-port',
    String(o.minPort ?? 49160),
    '--max-port',
    String(o.maxPort ?? 49300),
    '--no-tls',
    '--no-dtls',
    '--no-cli',
    ...(o.allowLoopbackPeers ? ['--allow-loopback-peers'] : []),
    '--fingerprint',
    '--log-file',
    'stdout',
    '--simple-log',
  ];
}

export async function startCoturn(o: CoturnOptions): Promise<Coturn> {
  const child = spawn(TURNSERVER, coturnArgs(o), { stdio: ['ignore', 'pipe', 'pipe'] });
  let log = '';
  child.stdout.on('data', (d: Buffer) => (log += d.toString()));
  child.stderr.on('data', (d: Buffer) => (log += d.toString()));
  for (let i = 0; i < 50 && !/IO method|listener opened/i.test(log) && child.exitCode === null; i++) await new Promise((r) => setTimeout(r, 100));
  if (child.exitCode !== null) throw new Error(`coturn exited with ${child.exitCode}:\n${log}`);
  return { process: child, log: () => log, stop: () => void child.kill('SIGTERM') };
}
