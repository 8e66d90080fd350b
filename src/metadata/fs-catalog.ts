import { randomUUID } from 'node:crypto';
import { constants } from 'node:fs';
import { link, mkdir, open, unlink, type FileHandle } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import type { Page } from '../oci/types.js';
import { isNotFound } from '../storage/atomic-file.js';

export interface CatalogSource {
  /** Where the log lives (index/repositories.log) and where temp files go. */
  logPath: string;
  tmpDir: string;
  /** Every repository in the tree (a full walk: only when the log is missing). */
  walk(): Promise<string[]>;
}

/**
 * The sorted list of repositories behind GET /v2/_catalog, so that a page costs O(log N + page)
 * instead of a walk of the whole tree. Persisted as an append-only log of `+name` / `-name`
 * lines: every process sharing the data folder (workers) keeps the sorted names in memory and,
 * before answering, reads only the bytes appended since it last looked (one fstat when nothing
 * changed), so a repository created by another process is listed at once. A new repository is
 * appended (O_APPEND, fdatasync) before its first file is written, so a crash can leave an extra
 * name (listed, with no tags: NAME_UNKNOWN on its tag list), never a missing one. Nothing in the
 * registry removes repository folders; one removed by hand stays listed until its `-name` line is
 * appended (remove()) or the log is deleted, which rebuilds it from the tree on the next listing,
 * created with link() so two processes racing to rebuild agree on one file.
 */
export class RepositoryCatalog {
  private names: string[] = [];
  private readonly known = new Set<string>();
  private offset = 0;
  private inode: number | undefined;
  private pending = '';
  private syncing: Promise<void> | undefined;

  constructor(private readonly source: CatalogSource) {}

  /** Names after `page.last`, at most `page.n`: a binary search and a slice. */
  async page(page: Page): Promise<string[]> {
    await this.sync();
    const start = page.last === undefined ? 0 : upperBound(this.names, page.last);
    return this.names.slice(start, page.n === undefined ? this.names.length : start + page.n);
  }

  /** Records a repository about to receive its first file; O(1) when already known. */
  async add(repo: string): Promise<void> {
    if (this.known.has(repo)) return;
    await this.sync();
    if (this.known.has(repo)) return;
    await this.append(`+${repo}\n`);
    this.insert(repo);
  }

  /** Records a repository whose folder was removed (every process drops it on its next look). */
  async remove(repo: string): Promise<void> {
    await this.sync();
    if (!this.known.has(repo)) return;
    await this.append(`-${repo}\n`);
    this.delete(repo);
  }

  /** Applies what other processes appended since the last look (one at a time per process). */
  private sync(): Promise<void> {
    return (this.syncing ??= this.syncOnce().finally(() => {
      this.syncing = undefined;
    }));
  }

  private async syncOnce(): Promise<void> {
    let handle: FileHandle;
    try {
      handle = await open(this.source.logPath, 'r');
    } catch (err) {
      if (!isNotFound(err)) throw err;
      await this.rebuild();
      handle = await open(this.source.logPath, 'r');
    }
    try {
      const s = await handle.stat();
      if (s.ino !== this.inode) this.reset(s.ino);
      if (s.size <= this.offset) return;
      const length = s.size - this.offset;
      const buffer = Buffer.allocUnsafe(length);
      const { bytesRead } = await handle.read(buffer, 0, length, this.offset);
      this.offset += bytesRead;
      this.apply(buffer.toString('utf8', 0, bytesRead));
    } finally {
      await handle.close();
    }
  }

  private reset(inode: number): void {
    this.names = [];
    this.known.clear();
    this.offset = 0;
    this.pending = '';
    this.inode = inode;
  }

  private apply(text: string): void {
    const lines = (this.pending + text).split('\n');
    this.pending = lines.pop()!; // an append still being written: completed next time
    // Many lines (first load): replay into the set, then one sort; a few: binary inserts/removals.
    const bulk = lines.length > 64;
    for (const line of lines) {
      const name = line.slice(1);
      if (line[0] === '+' && !this.known.has(name)) {
        if (bulk) this.known.add(name);
        else this.insert(name);
      } else if (line[0] === '-' && this.known.has(name)) {
        if (bulk) this.known.delete(name);
        else this.delete(name);
      }
    }
    if (bulk) this.names = [...this.known].sort(compare);
  }

  private insert(repo: string): void {
    this.known.add(repo);
    this.names.splice(upperBound(this.names, repo), 0, repo);
  }

  private delete(repo: string): void {
    this.known.delete(repo);
    const at = upperBound(this.names, repo) - 1;
    if (this.names[at] === repo) this.names.splice(at, 1);
  }

  private async append(line: string): Promise<void> {
    let handle: FileHandle;
    try {
      // No O_CREAT: a log that vanished must be rebuilt from the tree, not restarted with one name.
      handle = await open(this.source.logPath, constants.O_WRONLY | constants.O_APPEND);
    } catch (err) {
      if (!isNotFound(err)) throw err;
      await this.sync();
      handle = await open(this.source.logPath, constants.O_WRONLY | constants.O_APPEND);
    }
    try {
      await handle.write(line);
      await handle.datasync();
    } finally {
      await handle.close();
    }
  }

  private async rebuild(): Promise<void> {
    const names = (await this.source.walk()).sort(compare);
    await mkdir(dirname(this.source.logPath), { recursive: true });
    const tmp = join(this.source.tmpDir, `${randomUUID()}.catalog`);
    const handle = await open(tmp, 'w');
    try {
      await handle.writeFile(names.map((n) => `+${n}\n`).join(''));
      await handle.sync();
    } finally {
      await handle.close();
    }
    try {
      await link(tmp, this.source.logPath); // fails if another process built it first: theirs stands
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw err;
    } finally {
      await unlink(tmp).catch(() => undefined);
    }
  }
}

function compare(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}

/** Index of the first name greater than `key` in a sorted array. */
export function upperBound(sorted: readonly string[], key: string): number {
  let lo = 0;
  let hi = sorted.length;
  while (lo < hi) {
    const mid = (lo + hi) >>> 1;
    if (sorted[mid]! <= key) lo = mid + 1;
    else hi = mid;
  }
  return lo;
}
