import { readFile, readdir, stat } from 'node:fs/promises';
import { join } from 'node:path';
import { LRUCache } from 'lru-cache';
import { isDigest, type Digest } from '../oci/digest.js';
import { isNotFound } from '../storage/atomic-file.js';

/**
 * A folder's mtime is only trusted as "unchanged since we read it" once it is this much older than
 * the read: file timestamps come from a coarse kernel clock, so a change in the same tick as our
 * read would otherwise go unseen (git's "racily clean" problem).
 */
const RACY_NS = 50_000_000n;

interface Entry {
  ino: bigint;
  mtimeNs: bigint;
  /** Read while the folder could still change within the same timestamp tick: re-read next time. */
  racy: boolean;
  sorted: string[];
  /** tag → digest, read on first need (tagsFor). */
  values?: Map<string, Digest>;
}

/**
 * Sorted tag names (and, on demand, their digests) per repository, kept between requests and
 * validated by one stat of the _tags folder: creating, replacing (rename over) or deleting a tag
 * file changes the folder's mtime, whichever process did it. A tag page then costs a stat plus a
 * binary search and a slice, rather than a readdir and a sort; tagsFor no longer reads every tag
 * file per call. Bounded (LRU) so a store with many repositories does not grow the heap.
 */
export class TagCache {
  private readonly entries: LRUCache<string, Entry>;

  constructor(maxRepositories = 2000) {
    this.entries = new LRUCache({ max: maxRepositories });
  }

  /** Sorted tag names of the folder; empty when it does not exist. */
  async names(dir: string): Promise<readonly string[]> {
    return (await this.entry(dir))?.sorted ?? [];
  }

  /** tag → digest for every tag of the folder. */
  async values(dir: string): Promise<ReadonlyMap<string, Digest>> {
    const entry = await this.entry(dir);
    if (!entry) return new Map();
    if (!entry.values) {
      const values = new Map<string, Digest>();
      for (const tag of entry.sorted) {
        const text = (await readFile(join(dir, tag), 'utf8').catch(() => ''))?.trim();
        if (isDigest(text)) values.set(tag, text);
      }
      entry.values = values;
    }
    return entry.values;
  }

  /** This process changed the folder: forget it now rather than trusting the mtime check. */
  forget(dir: string): void {
    this.entries.delete(dir);
  }

  private async entry(dir: string): Promise<Entry | undefined> {
    let s;
    try {
      s = await stat(dir, { bigint: true });
    } catch (err) {
      if (isNotFound(err)) {
        this.entries.delete(dir);
        return undefined;
      }
      throw err;
    }
    const cached = this.entries.get(dir);
    if (cached && !cached.racy && cached.ino === s.ino && cached.mtimeNs === s.mtimeNs) return cached;
    const wall = BigInt(Date.now()) * 1_000_000n;
    const sorted = (await readdir(dir)).sort();
    const entry: Entry = { ino: s.ino, mtimeNs: s.mtimeNs, racy: wall - s.mtimeNs < RACY_NS, sorted };
    this.entries.set(dir, entry);
    return entry;
  }
}
