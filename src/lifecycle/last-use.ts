import { randomUUID } from 'node:crypto';
import { readFile, stat, unlink } from 'node:fs/promises';
import { join } from 'node:path';
import type { Logger } from 'pino';
import type { Digest } from '../oci/digest.js';
import type { Clock } from '../oci/types.js';
import { listDirOrEmpty, writeFileAtomic } from '../storage/atomic-file.js';

/**
 * Last use of cached content, recorded on every pull without touching the disk on the request path:
 * record() is a Map write. flush() (on a timer, off the request path) writes this process's whole map
 * to its own file `<dir>/<writer>.json` (temp → rename), so several processes over one data folder
 * never write the same file. The process that evicts reads every writer's file (merged(): latest time
 * wins) and adopts the files of writers that stopped (not rewritten for a while) into its own map.
 */
export class LastUseLog {
  private readonly times = new Map<string, number>();
  private dirty = false;
  readonly writer = `${process.pid}-${randomUUID().slice(0, 8)}`;

  constructor(
    private readonly dir: string,
    private readonly tmpDir: string,
    private readonly clock: Clock,
    private readonly logger?: Logger,
  ) {}

  record(repo: string, d: Digest): void {
    this.times.set(key(repo, d), this.clock.now());
    this.dirty = true;
  }

  get(repo: string, d: Digest): number | undefined {
    return this.times.get(key(repo, d));
  }

  /** Forgets evicted content, so the map stays the size of what is cached. */
  forget(repo: string, d: Digest): void {
    if (this.times.delete(key(repo, d))) this.dirty = true;
  }

  async flush(): Promise<void> {
    if (!this.dirty) return;
    this.dirty = false;
    await writeFileAtomic(this.tmpDir, join(this.dir, `${this.writer}.json`), JSON.stringify(Object.fromEntries(this.times)));
  }

  /**
   * Every writer's records merged into this one's map (latest wins). Files of other writers not
   * rewritten within `staleMs` are adopted and removed: their process is gone (a live writer with
   * something new rewrites its file every flush, and whatever it had is in this map now anyway).
   */
  async merge(staleMs: number): Promise<void> {
    for (const name of await listDirOrEmpty(this.dir)) {
      if (!name.endsWith('.json') || name === `${this.writer}.json`) continue;
      const path = join(this.dir, name);
      let text: string;
      let mtime: number;
      try {
        [text, mtime] = await Promise.all([readFile(path, 'utf8'), stat(path).then((s) => s.mtimeMs)]);
      } catch {
        continue; // replaced or removed meanwhile
      }
      let entries: Record<string, unknown>;
      try {
        entries = JSON.parse(text) as Record<string, unknown>;
      } catch (err) {
        this.logger?.warn({ path, err: (err as Error).message }, 'unreadable last-use file ignored');
        continue;
      }
      for (const [k, v] of Object.entries(entries)) {
        if (typeof v === 'number' && v > (this.times.get(k) ?? 0)) {
          this.times.set(k, v);
          this.dirty = true;
        }
      }
      if (Date.now() - mtime > staleMs) await unlink(path).catch(() => undefined);
    }
  }
}

function key(repo: string, d: Digest): string {
  return `${repo}@${d}`;
}
