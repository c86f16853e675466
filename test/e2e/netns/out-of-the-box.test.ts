/**
 * Out of the box: `npm start` (scripts/start.sh → dist/server/main.js) with NO SFU variables, in
 * a network namespace of its own — "the hospital", whose only interface besides loopback is a
 * veth — and the district doctor's Chromium in a second namespace ("the clinic"), the specialist's
 * in a third ("the specialist's office"). The default announced address must be the hospital's
 * veth address, and the call must carry audio and video both ways over the lab link.
 *
 * Needs root (network namespaces) and the built server (`npx tsc -p tsconfig.build.json`).
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import type { CallPageGlobal } from '../pages/call-page-api';
import { consultForCall, type PlatformClient } from '../../support/consult-flow';
import { apiClient, DEMO, DEMO_PASSWORD } from '../../support/platform';
import type { LoginResponse } from '../../../contracts/api';
import { joinFromLab, sleep, waitMediaFlowing, type LabParticipant } from './call-in-lab';
import { labUnavailableReason, NetLab } from './lab';

const repoRoot = path.resolve(__dirname, '..', '..', '..');
const unavailable = labUnavailableReason();
if (unavailable) {
  process.stderr.write(`[skip] out-of-the-box call in network namespaces: ${unavailable}\n`);
}
const maybe = unavailable ? describe.skip : describe;

interface SfuReadyLine {
  msg: string;
  announcedAddress?: string;
  announcedAddressSource?: string;
  listenIp?: string;
}

maybe('out of the box: default config, server and browsers in separate network namespaces', () => {
  let lab: NetLab;
  let server: ChildProcess | undefined;
  let dataDir = '';
  const logs: string[] = [];
  const participants: LabParticipant[] = [];

  beforeAll(async () => {
    if (!existsSync(path.join(repoRoot, 'dist', 'server', 'main.js'))) throw new Error('build the server first: npx tsc -p tsconfig.build.json');
    lab = NetLab.create();
    lab.addHost('hospital');
    lab.addHost('clinic');
    lab.addHost('office');
  });

  afterAll(async () => {
    for (const p of participants) await p.browser.close();
    if (server && server.exitCode === null) {
      server.kill('SIGTERM');
      await new Promise((r) => {
        const t = setTimeout(r, 10_000);
        // eslint-disable-next-line @typescript-eslint/no-confusing-void-expression -- test shorthand; the value is not used
        server!.once('exit', () => (clearTimeout(t), r(undefined)));
      });
    }
    await lab?.close();
    if (dataDir) rmSync(dataDir, { recursive: true, force: true });
  });

  test('npm start with no SFU variables announces the hospital address; the clinic and the specialist see and hear each other', async () => {
    const hospital = lab.host('hospital');
    dataDir = mkdtempSync(path.join(os.tmpdir(), 'hoichan-hospital-'));
    // What an operator's shell would have: no NODE_ENV, no SFU_*, no MONGODB_URI (embedded FerretDB).
    const env: NodeJS.ProcessEnv = {
      PATH: process.env.PATH,
      HOME: process.env.HOME,
      ...(process.env.HOICHAN_CACHE ? { HOICHAN_CACHE: process.env.HOICHAN_CACHE } : {}),
      HOICHAN_DATA_DIR: dataDir,
      HOICHAN_DEMO_PASSWORD: DEMO_PASSWORD,
    };
    server = spawn(lab.execPrefix('hospital')[0]!, [...lab.execPrefix('hospital').slice(1), 'bash', 'scripts/start.sh'], {
      cwd: repoRoot,
      env,
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    const collect = (chunk: Buffer) => logs.push(...chunk.toString('utf8').split('\n').filter(Boolean));
    server.stdout!.on('data', collect);
    server.stderr!.on('data', collect);

    // 1. The startup log names the choice.
    const ready = await new Promise<SfuReadyLine>((resolve, reject) => {
      const t = setTimeout(() => reject(new Error(`no "sfu ready" line in 120 s:\n${logs.slice(-30).join('\n')}`)), 120_000);
      const check = setInterval(() => {
        for (const line of logs) {
          if (!line.includes('sfu ready')) continue;
          clearTimeout(t);
          clearInterval(check);
          // eslint-disable-next-line @typescript-eslint/no-confusing-void-expression -- test shorthand; the value is not used
          return resolve(JSON.parse(line) as SfuReadyLine);
        }
        if (server!.exitCode !== null) {
          clearTimeout(t);
          clearInterval(check);
          reject(new Error(`server exited ${server!.exitCode}:\n${logs.slice(-30).join('\n')}`));
        }
      }, 200);
    });
    process.stdout.write(`[out-of-the-box] ${ready.msg}\n`);
    expect(ready.listenIp).toBe('0.0.0.0');
    expect(ready.announcedAddress).toBe(hospital.ip);
    expect(ready.announcedAddressSource).toBe(`first non-internal IPv4 (${hospital.inner})`);

    // 2. The hospital serves on its veth address (reached from the test over the lab bridge).
    const url = `http://${hospital.ip}:8080`;
    const api = apiClient(url);
    const deadline = Date.now() + 120_000;
    for (;;) {
      const r = await api('GET', '/readyz').catch(() => ({ status: 0 }));
      if (r.status === 200) break;
      if (Date.now() > deadline) throw new Error(`GET ${url}/readyz never 200:\n${logs.slice(-20).join('\n')}`);
      await sleep(1000);
    }
    const client: PlatformClient = {
      url,
      api,
      async login(email, password = DEMO_PASSWORD) {
        const res = await api('POST', '/api/auth/login', { body: { email, password } });
        if (res.status !== 200) throw new Error(`login ${email} failed: ${res.status} ${JSON.stringify(res.body)}`);
        return res.body as LoginResponse;
      },
    };
    const consult = await consultForCall(client, { admit: [DEMO.referrer] });

    // 3. The specialist (office) and the district doctor (clinic) join from their namespaces.
    const specialist = await joinFromLab(lab, 'office', { serverUrl: url, token: consult.specialist.token, consultId: consult.consultId });
    participants.push(specialist);
    const referrer = await joinFromLab(lab, 'clinic', { serverUrl: url, token: consult.referrer.token, consultId: consult.consultId });
    participants.push(referrer);

    await waitMediaFlowing(referrer.page, specialist.peerId);
    await waitMediaFlowing(specialist.page, referrer.peerId);

    // 4. Media goes straight to the announced address (no relay), and the indicator says so.
    for (const p of [referrer, specialist]) {
      await p.page.waitForFunction(
        () => (globalThis as unknown as CallPageGlobal).hoichanCall.events().some((e) => e.event === 'connection' && e.payload.quality === 'good'),
        undefined,
        { timeout: 20_000 },
      );
      const status = await p.page.evaluate(() => (globalThis as unknown as CallPageGlobal).hoichanCall.connection());
      expect(status?.transports.map((t) => [t.direction, t.connectionState, t.remoteAddress, t.localCandidateType])).toEqual([
        ['send', 'connected', hospital.ip, 'host'],
        ['recv', 'connected', hospital.ip, 'host'],
      ]);
    }
    process.stdout.write(
      `[out-of-the-box] clinic ${lab.host('clinic').ip} and office ${lab.host('office').ip} exchange audio and video through ${hospital.ip}\n`,
    );
  });
});
