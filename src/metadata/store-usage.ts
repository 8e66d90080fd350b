import { readFile, stat, statfs } from 'node:fs/promises';
import { join } from 'node:path';
import type { Clock } from '../oci/types.js';
import { listDirOrEmpty } from '../storage/atomic-file.js';
import type { Layout } from '../storage/layout.js';
import type { ContentOrigin } from './metadata-index.js';

/** hosted: pushed here (linked from a hosted repository); cached: linked only from mirrored ones; unreferenced: linked from none (GC material). */
export type UsageOrigin = ContentOrigin | 'unreferenced';

export interface StoreUsage {
  blobs: Record<UsageOrigin, { count: number; bytes: number }>;
  filesystem?: { availableBytes: number; sizeBytes: number };
  scannedAt: number;
}

// Bounded parallelism for stat/readFile: fast on SSDs without exhausting file descriptors.
const PARALLEL = 32;

/**
 * Counts blobs and bytes in the data folder by origin, from the folder itself (disk is the truth):
 * blobs/ for sizes, the link and manifest records under repositories/ for origins. A scan costs
 * one stat per blob and one read per link, so results are reused for `maxAgeMs`, refreshed in the
 * background after that, and concurrent callers share one scan.
 */
export class StoreUsageScanner {
  private last: StoreUsage | undefined;
  private running: Promise<StoreUsage> | undefined;

  constructor(
    private readonly layout: Layout,
    private readonly clock: Clock,
  ) {}

  /**
   * The last scan when younger than `maxAgeMs`. When older, a rescan starts and the old figures are
   * returned meanwhile, so a scrape never waits on a large store; only the first scan (and every
   * scan when `maxAgeMs` is 0) is awaited.
   */
  async snapshot(maxAgeMs: number): Promise<StoreUsage> {
    if (this.last && this.clock.now() - this.last.scannedAt < maxAgeMs) return this.last;
    const scan = (this.running ??= this.scan().finally(() => {
      this.running = undefined;
    }));
    if (this.last && maxAgeMs > 0) {
      scan.catch(() => undefined); // the next scrape retries; the old figures stand meanwhile
      return this.last;
    }
    return scan;
  }

  private async scan(): Promise<StoreUsage> {
    const [sizes, origins, filesystem] = await Promise.all([this.blobSizes(), this.linkOrigins(), this.filesystem()]);
    const usage: StoreUsage = {
      blobs: { hosted: { count: 0, bytes: 0 }, cached: { count: 0, bytes: 0 }, unreferenced: { count: 0, bytes: 0 } },
      scannedAt: this.clock.now(),
    };
    if (filesystem) usage.filesystem = filesystem;
    for (const [digest, size] of sizes) {
      const from = origins.get(digest);
      // A blob pushed anywhere is hosted even if a mirror also cached it: eviction must not remove it.
      const origin: UsageOrigin = from?.has('hosted') ? 'hosted' : from?.has('cached') ? 'cached' : 'unreferenced';
      usage.blobs[origin].count++;
      usage.blobs[origin].bytes += size;
    }
    this.last = usage;
    return usage;
  }

  /** digest → size for every file under blobs/<alg>/<xx>/<hex>. */
  private async blobSizes(): Promise<Map<string, number>> {
    const sizes = new Map<string, number>();
    const paths: Array<{ digest: string; path: string }> = [];
    for (const alg of await listDirOrEmpty(this.layout.blobsDir)) {
      for (const prefix of await listDirOrEmpty(join(this.layout.blobsDir, alg))) {
        for (const hex of await listDirOrEmpty(join(this.layout.blobsDir, alg, prefix))) {
          paths.push({ digest: `${alg}:${hex}`, path: join(this.layout.blobsDir, alg, prefix, hex) });
        }
      }
    }
    await forEachLimited(paths, async ({ digest, path }) => {
      const s = await stat(path).catch(() => undefined); // deleted mid-scan: not counted
      if (s?.isFile()) sizes.set(digest, s.size);
    });
    return sizes;
  }

  /** digest → origins of the repositories linking it (blob links and manifest records). */
  private async linkOrigins(): Promise<Map<string, Set<ContentOrigin>>> {
    const records: string[] = [];
    await this.collectRecords(this.layout.repositoriesDir, records);
    const origins = new Map<string, Set<ContentOrigin>>();
    await forEachLimited(records, async (path) => {
      const origin = await readOrigin(path);
      if (!origin) return;
      const parts = path.split(/[\\/]/);
      const digest = `${parts[parts.length - 2]}:${parts[parts.length - 1]}`;
      let set = origins.get(digest);
      if (!set) origins.set(digest, (set = new Set()));
      set.add(origin);
    });
    return origins;
  }

  /** Paths of every _layers/<alg>/<hex> and _manifests/<alg>/<hex> record under `dir`. */
  private async collectRecords(dir: string, out: string[]): Promise<void> {
    for (const name of await listDirOrEmpty(dir)) {
      const path = join(dir, name);
      if (name === '_layers' || name === '_manifests') {
        for (const alg of await listDirOrEmpty(path)) for (const hex of await listDirOrEmpty(join(path, alg))) out.push(join(path, alg, hex));
      } else if (name !== '_tags' && name !== '_referrers') {
        await this.collectRecords(path, out);
      }
    }
  }

  private async filesystem(): Promise<StoreUsage['filesystem']> {
    try {
      const fs = await statfs(this.layout.root);
      return { availableBytes: fs.bavail * fs.bsize, sizeBytes: fs.blocks * fs.bsize };
    } catch {
      return undefined; // platform without statfs: the gauges stay absent rather than wrong
    }
  }
}

/** Links written before origins were recorded hold no JSON: they were pushed, so hosted. */
async function readOrigin(path: string): Promise<ContentOrigin | undefined> {
  let text: string;
  try {
    text = await readFile(path, 'utf8');
  } catch {
    return undefined; // removed mid-scan, or a folder
  }
  try {
    const origin = (JSON.parse(text) as { origin?: unknown }).origin;
    return origin === 'cached' ? 'cached' : 'hosted';
  } catch {
    return 'hosted';
  }
}


async function forEachLimited<T>(items: readonly T[], work: (item: T) => Promise<void>): Promise<void> {
  let next = 0;
  const worker = async () => {
    while (next < items.length) await work(items[next++]!);
  };
  await Promise.all(Array.from({ length: Math.min(PARALLEL, items.length) }, worker));
}
