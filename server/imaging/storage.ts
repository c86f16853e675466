/**
 * Image files on disk under <dataDir>/imaging/:
 *   originals/<aa>/<sha256>          the uploaded bytes, content-addressed (deduplicated)
 *   derived/<studyId>/preview.png    8-bit preview for the viewer (longer side ≤ 1024)
 *   derived/<studyId>/heatmap-<finding>.grid  the finding's heatmap, round(p · 255), 128×128 bytes
 *   derived/<studyId>/heatmap-<finding>.png   its overlay, rendered from the grid on the first read
 *   tmp/                             in-flight writes only (cleared at start-up)
 * Every file is written to tmp/, fsynced, then renamed into place: a reader never sees half a file.
 */
import { createHash, randomUUID } from 'node:crypto';
import { constants as fsConstants, createReadStream, type ReadStream } from 'node:fs';
import { mkdir, open, readFile, rename, rm, stat } from 'node:fs/promises';
import path from 'node:path';

const STUDY_ID = /^[A-Za-z0-9-]{1,64}$/;

export function sha256Hex(data: Uint8Array): string {
  return createHash('sha256').update(data).digest('hex');
}

export class ImagingStorage {
  readonly root: string;

  constructor(dataDir: string) {
    this.root = path.join(dataDir, 'imaging');
  }

  /** Creates the folders and removes leftovers of writes interrupted by a crash. */
  async init(): Promise<void> {
    await rm(path.join(this.root, 'tmp'), { recursive: true, force: true });
    for (const dir of ['tmp', 'originals', 'derived']) await mkdir(path.join(this.root, dir), { recursive: true });
  }

  originalPath(sha256: string): string {
    if (!/^[0-9a-f]{64}$/.test(sha256)) throw new Error('not a sha256');
    return path.posix.join('originals', sha256.slice(0, 2), sha256);
  }

  derivedPath(studyId: string, file: string): string {
    if (!STUDY_ID.test(studyId) || !/^[a-z0-9-]+\.(png|grid)$/.test(file)) throw new Error('bad derived file name');
    return path.posix.join('derived', studyId, file);
  }

  /**
   * Stores the original once per content. Returns whether this call created it (so a failed upload
   * removes only what it added, never a file another study shares).
   */
  async putOriginal(data: Uint8Array, sha256: string): Promise<{ relPath: string; created: boolean }> {
    const relPath = this.originalPath(sha256);
    if (await this.exists(relPath)) return { relPath, created: false };
    await this.writeAtomic(relPath, data);
    return { relPath, created: true };
  }

  async putDerived(studyId: string, file: string, data: Uint8Array): Promise<string> {
    const relPath = this.derivedPath(studyId, file);
    await this.writeAtomic(relPath, data);
    return relPath;
  }

  /** temp file in tmp/ → write → fsync → rename → fsync the folder. */
  async writeAtomic(relPath: string, data: Uint8Array): Promise<void> {
    const target = this.resolve(relPath);
    await mkdir(path.dirname(target), { recursive: true });
    const tmp = path.join(this.root, 'tmp', `${randomUUID()}.part`);
    const fh = await open(tmp, fsConstants.O_CREAT | fsConstants.O_EXCL | fsConstants.O_WRONLY, 0o640);
    try {
      await fh.writeFile(data);
      await fh.sync();
    } catch (err) {
      await fh.close().catch(() => undefined);
      await rm(tmp, { force: true });
      throw err;
    }
    await fh.close();
    try {
      await rename(tmp, target);
    } catch (err) {
      await rm(tmp, { force: true });
      throw err;
    }
    const dir = await open(path.dirname(target), 'r');
    try {
      await dir.sync();
    } catch {
      /* some file systems cannot fsync a folder */
    } finally {
      await dir.close();
    }
  }

  async exists(relPath: string): Promise<boolean> {
    try {
      return (await stat(this.resolve(relPath))).isFile();
    } catch {
      return false;
    }
  }

  read(relPath: string): Promise<Buffer> {
    return readFile(this.resolve(relPath));
  }

  open(relPath: string): ReadStream {
    return createReadStream(this.resolve(relPath));
  }

  async removeStudyFiles(studyId: string, original?: { relPath: string; created: boolean }): Promise<void> {
    if (STUDY_ID.test(studyId)) await rm(path.join(this.root, 'derived', studyId), { recursive: true, force: true });
    if (original?.created) await rm(this.resolve(original.relPath), { force: true });
  }

  /** Absolute path, refusing anything that would leave the imaging folder. */
  resolve(relPath: string): string {
    const abs = path.resolve(this.root, relPath);
    if (!abs.startsWith(this.root + path.sep)) throw new Error('path outside the imaging store');
    return abs;
  }
}
