/**
 * A small network lab for the call tests: network namespaces joined by veth pairs to one bridge
 * that the lab creates (and removes, even when a test fails or the process exits), with the
 * link impairments this machine's kernel offers (no netem here):
 *   - rate: `tc … tbf` on each end of a host's veth (uplink = the namespace's egress, downlink =
 *     the bridge side's egress);
 *   - random loss: nftables in the namespace (`meta l4proto udp numgen random mod 100 < N drop`,
 *     in and out);
 *   - an outage: `ip link set <bridge side> down`;
 *   - UDP blocked: nftables drops every UDP datagram in and out of the namespace.
 * Traffic stays inside the lab's own subnet (10.213.x.0/24, x random, checked unused).
 * Needs root; `labUnavailableReason()` says why not.
 */
import { execFileSync, spawnSync } from 'node:child_process';
import { randomBytes, randomInt } from 'node:crypto';
import { chmodSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { CHROMIUM_PATH } from '../../support/browser';

/** Why the lab cannot run here (undefined = it can). */
export function labUnavailableReason(): string | undefined {
  if (process.getuid?.() !== 0) return 'the network-namespace tests need root (ip netns, veth, tc, nft); CI runs as root';
  for (const tool of ['ip', 'tc', 'nft']) {
    if (spawnSync('sh', ['-c', `command -v ${tool}`]).status !== 0) return `\`${tool}\` is not installed (apt-get install -y iproute2 nftables)`;
  }
  return undefined;
}

function run(cmd: string, args: string[], input?: string): string {
  try {
    return execFileSync(cmd, args, { encoding: 'utf8', stdio: ['pipe', 'pipe', 'pipe'], ...(input !== undefined ? { input } : {}) });
  } catch (err) {
    const e = err as { stderr?: string; message: string };
    // eslint-disable-next-line preserve-caught-error -- test harness error; the original is reported alongside
    throw new Error(`${cmd} ${args.join(' ')} failed: ${e.stderr?.trim() || e.message}`);
  }
}

const quiet = (cmd: string, args: string[]): void => {
  spawnSync(cmd, args, { stdio: 'ignore' });
};

export interface LabHost {
  /** Its role in the story ("hospital", "clinic", …). */
  name: string;
  ns: string;
  ip: string;
  /** veth end inside the namespace (its egress = uplink). */
  inner: string;
  /** veth end on the bridge (its egress = downlink). */
  outer: string;
}

export interface LinkShape {
  /** Rate towards the host (what it receives), kbps; undefined = no limit. */
  downKbps?: number;
  /** Rate from the host, kbps. */
  upKbps?: number;
}

const labs = new Set<NetLab>();
process.once('exit', () => {
  for (const lab of labs) lab.closeSync();
});

export class NetLab {
  readonly id: string;
  readonly subnet: string;
  readonly bridge: string;
  /** The bridge's own address: the root namespace (where the test runs) on the lab network. */
  readonly gatewayIp: string;
  readonly hosts = new Map<string, LabHost>();
  #next = 2;
  #tmp: string;
  #closed = false;

  private constructor(id: string, subnet: string) {
    this.id = id;
    this.subnet = subnet;
    this.bridge = `hc${id}br`;
    this.gatewayIp = `${subnet}.1`;
    this.#tmp = mkdtempSync(path.join(os.tmpdir(), `hoichan-netlab-${id}-`));
  }

  /** A bridge with the lab subnet's .1 in the root namespace. */
  static create(): NetLab {
    const routes = run('ip', ['-4', 'route', 'show']);
    let subnet = '';
    for (let i = 0; i < 50 && !subnet; i++) {
      const candidate = `10.213.${randomInt(1, 254)}`;
      if (!routes.includes(`${candidate}.`)) subnet = candidate;
    }
    if (!subnet) throw new Error('no free 10.213.x.0/24 subnet for the lab');
    const lab = new NetLab(randomBytes(2).toString('hex'), subnet);
    labs.add(lab);
    try {
      run('ip', ['link', 'add', lab.bridge, 'type', 'bridge']);
      run('ip', ['addr', 'add', `${lab.gatewayIp}/24`, 'dev', lab.bridge]);
      run('ip', ['link', 'set', lab.bridge, 'up']);
    } catch (err) {
      lab.closeSync();
      throw err;
    }
    return lab;
  }

  /** A namespace whose only interface besides loopback is a veth to the bridge. */
  addHost(name: string): LabHost {
    const n = this.#next++;
    const host: LabHost = { name, ns: `hc${this.id}-${name}`, ip: `${this.subnet}.${n}`, inner: `hc${this.id}i${n}`, outer: `hc${this.id}o${n}` };
    run('ip', ['netns', 'add', host.ns]);
    this.hosts.set(name, host);
    run('ip', ['link', 'add', host.outer, 'type', 'veth', 'peer', 'name', host.inner]);
    run('ip', ['link', 'set', host.inner, 'netns', host.ns]);
    run('ip', ['link', 'set', host.outer, 'master', this.bridge]);
    run('ip', ['link', 'set', host.outer, 'up']);
    const inNs = (...args: string[]) => run('ip', ['netns', 'exec', host.ns, ...args]);
    inNs('ip', 'link', 'set', 'lo', 'up');
    inNs('ip', 'addr', 'add', `${host.ip}/24`, 'dev', host.inner);
    inNs('ip', 'link', 'set', host.inner, 'up');
    inNs('ip', 'route', 'add', 'default', 'via', this.gatewayIp);
    return host;
  }

  host(name: string): LabHost {
    const h = this.hosts.get(name);
    if (!h) throw new Error(`no lab host ${name}`);
    return h;
  }

  /** argv prefix that runs a command inside the host's namespace. */
  execPrefix(name: string): string[] {
    return ['ip', 'netns', 'exec', this.host(name).ns];
  }

  /** A Chromium executable that runs inside the host's namespace (for launchChromium's executablePath). */
  chromiumIn(name: string): string {
    const file = path.join(this.#tmp, `chromium-${name}.sh`);
    writeFileSync(file, `#!/bin/sh\nexec ip netns exec ${this.host(name).ns} ${CHROMIUM_PATH} "$@"\n`);
    chmodSync(file, 0o755);
    return file;
  }

  /** Rate limits with tbf (queue ≈ 300 ms); an undefined direction is unshaped. */
  shape(name: string, shape: LinkShape): void {
    const h = this.host(name);
    const apply = (prefix: string[], dev: string, kbps: number | undefined) => {
      if (kbps === undefined) {
        quiet(prefix[0] ?? 'tc', [...prefix.slice(1), 'qdisc', 'del', 'dev', dev, 'root']);
        return;
      }
      // burst ≥ one MTU and ≈ 20 ms of rate; latency bounds the queue (a rural link's buffer).
      const burst = Math.max(3000, Math.round((kbps * 1000) / 8 / 50));
      run(prefix[0] ?? 'tc', [
        ...prefix.slice(1),
        'qdisc',
        'replace',
        'dev',
        dev,
        'root',
        'tbf',
        'rate',
        `${kbps}kbit`,
        'burst',
        String(burst),
        'latency',
        '300ms',
      ]);
    };
    apply(['tc'], h.outer, shape.downKbps);
    apply(['ip', 'netns', 'exec', h.ns, 'tc'], h.inner, shape.upKbps);
  }

  /** Random loss of UDP datagrams, `percent` in each direction (nftables numgen); 0 removes it. */
  loss(name: string, percent: number): void {
    this.#nft(name, 'hoichan_loss', percent > 0 ? `meta l4proto udp numgen random mod 100 < ${Math.round(percent)} drop` : undefined);
  }

  /** Drops all UDP in and out of the host (TURN over TCP is then the only way); false lifts it. */
  blockUdp(name: string, blocked = true): void {
    this.#nft(name, 'hoichan_noudp', blocked ? 'meta l4proto udp drop' : undefined);
  }

  /**
   * A strict clinic firewall: no UDP at all, and TCP out only to `tcpPorts` (e.g. the web server
   * and the TURN server); `undefined` lifts it. Replies to allowed connections come back.
   */
  firewall(name: string, tcpPorts: number[] | undefined): void {
    const h = this.host(name);
    quiet('ip', ['netns', 'exec', h.ns, 'nft', 'delete', 'table', 'inet', 'hoichan_fw']);
    if (!tcpPorts) return;
    const script = `table inet hoichan_fw {
  chain in { type filter hook input priority 0; policy accept; iifname "lo" accept; meta l4proto udp drop; }
  chain out { type filter hook output priority 0; policy accept; oifname "lo" accept; meta l4proto udp drop; tcp dport != { ${tcpPorts.join(', ')} } drop; }
}
`;
    run('ip', ['netns', 'exec', h.ns, 'nft', '-f', '-'], script);
  }

  /** Cuts (false) or restores (true) the host's link at the bridge. */
  link(name: string, up: boolean): void {
    run('ip', ['link', 'set', this.host(name).outer, up ? 'up' : 'down']);
  }

  #nft(name: string, table: string, rule: string | undefined): void {
    const h = this.host(name);
    quiet('ip', ['netns', 'exec', h.ns, 'nft', 'delete', 'table', 'inet', table]);
    if (!rule) return;
    const script = `table inet ${table} {\n  chain in { type filter hook input priority 0; policy accept; ${rule}; }\n  chain out { type filter hook output priority 0; policy accept; ${rule}; }\n}\n`;
    run('ip', ['netns', 'exec', h.ns, 'nft', '-f', '-'], script);
  }

  /** Removes the namespaces (their veths go with them), the bridge and the temp files. Idempotent. */
  closeSync(): void {
    if (this.#closed) return;
    this.#closed = true;
    for (const h of this.hosts.values()) {
      // Anything still running in the namespace keeps it alive: kill it first.
      const pids = spawnSync('ip', ['netns', 'pids', h.ns], { encoding: 'utf8' }).stdout?.split(/\s+/).filter(Boolean) ?? [];
      for (const pid of pids) quiet('kill', ['-9', pid]);
      quiet('ip', ['link', 'del', h.outer]);
      quiet('ip', ['netns', 'del', h.ns]);
    }
    quiet('ip', ['link', 'del', this.bridge]);
    rmSync(this.#tmp, { recursive: true, force: true });
    labs.delete(this);
  }

  async close(): Promise<void> {
    this.closeSync();
  }
}
