/**
 * Keeps the embedded database processes tied to the server:
 * - `childCommand` starts a child through util-linux `setpriv --pdeathsig`, so the kernel signals it
 *   when the server process dies, however it dies (SIGKILL, a crash): it never outlives the server.
 *   When the server runs as root and the child must not (PostgreSQL), setpriv also drops to that user.
 * - `DataDirLock` is a lock file with the owner's pid in the data folder: a second server (or a
 *   restart after a crash that left a child behind) never starts a second database over the same files.
 */
import { execFileSync } from 'node:child_process';
import { existsSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import path from 'node:path';

const SETPRIV_CANDIDATES = ['/usr/bin/setpriv', '/bin/setpriv'];
const setprivBin = (): string | undefined => SETPRIV_CANDIDATES.find((p) => existsSync(p));

export interface ChildUser {
  uid: number;
  gid: number;
  name: string;
}

/** The command and arguments that start `bin args` with a parent-death signal (and as `user`). */
export function childCommand(bin: string, args: string[], signal: 'TERM' | 'INT', user?: ChildUser): { command: string; args: string[] } {
  const setpriv = setprivBin();
  if (!setpriv) {
    if (user) throw new Error(`setpriv (util-linux) is needed to start ${path.basename(bin)} as ${user.name}`);
    return { command: bin, args };
  }
  const asUser = user ? [`--reuid=${user.uid}`, `--regid=${user.gid}`, '--init-groups'] : [];
  return { command: setpriv, args: [...asUser, `--pdeathsig=${signal}`, '--', bin, ...args] };
}

/** uid/gid of a system account, e.g. `postgres`. */
export function systemUser(name: string): ChildUser | undefined {
  try {
    const uid = Number(execFileSync('id', ['-u', name], { encoding: 'utf8' }).trim());
    const gid = Number(execFileSync('id', ['-g', name], { encoding: 'utf8' }).trim());
    return Number.isInteger(uid) && Number.isInteger(gid) ? { uid, gid, name } : undefined;
  } catch {
    return undefined;
  }
}

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'EPERM';
  }
}

function cmdlineOf(pid: number): string {
  try {
    return readFileSync(`/proc/${pid}/cmdline`, 'utf8').replace(/\0/g, ' ');
  } catch {
    return '';
  }
}

interface LockContent {
  owner: number;
  child?: number;
  what: string;
}

export class DataDirLock {
  private constructor(
    private readonly file: string,
    private readonly what: string,
  ) {}

  /**
   * Takes `<dir>/<name>.lock`. Refused while another live process holds it. A lock left by a dead
   * server is taken over, and the database child it recorded is stopped first if it still runs
   * with this folder on its command line (an orphan from before the watchdog, or a kill -9 race).
   */
  static acquire(dir: string, name: string, marker: string): DataDirLock {
    const file = path.join(dir, `${name}.lock`);
    for (let attempt = 0; attempt < 2; attempt++) {
      try {
        writeFileSync(file, JSON.stringify({ owner: process.pid, what: name } satisfies LockContent), { flag: 'wx', mode: 0o644 });
        return new DataDirLock(file, name);
      } catch (err) {
        if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw err;
      }
      let held: LockContent | null;
      try {
        held = JSON.parse(readFileSync(file, 'utf8')) as LockContent;
      } catch {
        held = null; // torn or foreign: treat as stale
      }
      if (held && held.owner !== process.pid && alive(held.owner)) {
        throw new Error(
          `${dir} is in use by another hoichan server (pid ${held.owner}): its embedded ${name} runs over these files. Stop it first, or use another HOICHAN_DATA_DIR.`,
        );
      }
      if (held && held.owner === process.pid) {
        throw new Error(`${dir}: an embedded ${name} of this process already runs over these files`);
      }
      if (held?.child && alive(held.child) && cmdlineOf(held.child).includes(marker)) {
        try {
          process.kill(held.child, 'SIGKILL');
        } catch {
          /* gone meanwhile */
        }
      }
      rmSync(file, { force: true });
    }
    throw new Error(`${dir}: could not take ${file}`);
  }

  /** Records the database child's pid, so a later start can stop it if this server dies first. */
  setChild(pid: number | undefined): void {
    writeFileSync(this.file, JSON.stringify({ owner: process.pid, child: pid, what: this.what } satisfies LockContent));
  }

  release(): void {
    try {
      const held = JSON.parse(readFileSync(this.file, 'utf8')) as LockContent;
      if (held.owner === process.pid) rmSync(this.file, { force: true });
    } catch {
      /* already gone */
    }
  }
}
