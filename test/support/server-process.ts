/**
 * A built server process (dist/server/main.js) for the multi-process tests: started with the given
 * environment on a free loopback port, resolved once it listens; its output kept for assertions.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import path from 'node:path';
import { freeLoopbackPort } from '../../server/db/embedded-ferretdb';
import type { PlatformClient } from './consult-flow';
import { apiClient, DEMO_PASSWORD } from './platform';

export const BUILT_SERVER = path.resolve(__dirname, '../../dist/server/main.js');

export interface ServerProcess extends PlatformClient {
  name: string;
  child: ChildProcess;
  output(): string;
  /** The process id it logged when it opened the shared state (Redis). */
  processId(): string;
  /** SIGTERM, and waits for the exit (a no-op when it already exited). */
  stop(): Promise<void>;
}

export async function startServerProcess(name: string, env: Record<string, string>): Promise<ServerProcess> {
  const port = await freeLoopbackPort();
  const child = spawn(process.execPath, [BUILT_SERVER], {
    env: { ...process.env, SFU_WORKERS: '1', ...env, NODE_ENV: 'test', PORT: String(port), HOST: '127.0.0.1' },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let out = '';
  child.stdout?.on('data', (d: Buffer) => (out += d.toString()));
  child.stderr?.on('data', (d: Buffer) => (out += d.toString()));
  const start = Date.now();
  while (!out.includes('hoichan is listening')) {
    if (child.exitCode !== null) throw new Error(`server ${name} exited: ${out.slice(-2000)}`);
    if (Date.now() - start > 60000) throw new Error(`server ${name} did not start: ${out.slice(-2000)}`);
    await new Promise((r) => setTimeout(r, 100));
  }
  const url = `http://127.0.0.1:${port}`;
  const api = apiClient(url);
  return {
    name,
    url,
    api,
    child,
    output: () => out,
    processId() {
      for (const line of out.split('\n')) {
        if (!line.includes('"processId"')) continue;
        const parsed = JSON.parse(line) as { processId?: string };
        if (parsed.processId) return parsed.processId;
      }
      throw new Error(`server ${name} logged no process id`);
    },
    async login(email, password = DEMO_PASSWORD) {
      const res = await api('POST', '/api/auth/login', { body: { email, password } });
      if (res.status !== 200) throw new Error(`login ${email} on ${name} failed: ${res.status} ${JSON.stringify(res.body)}`);
      return res.body;
    },
    async stop() {
      if (child.exitCode !== null || child.signalCode !== null) return;
      const exited = new Promise((r) => child.once('exit', r));
      child.kill('SIGTERM');
      await exited;
    },
  };
}
