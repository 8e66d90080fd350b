import type { Logger } from 'pino';
import type { DownloadCount, ImageFactsStore } from '../metadata/image-facts-store.js';
import type { Digest } from '../oci/digest.js';
import type { ResultCounter } from './layer-facts.js';

/** What the pull path calls: synchronous, no I/O. */
export interface DownloadRecorder {
  record(repo: string, digest: Digest): void;
}

/**
 * Counts manifest downloads in memory and writes them in batches off the request path, so a pull
 * costs one map update. Counts not yet flushed are added to the stored ones when read.
 */
export class DownloadCounter implements DownloadRecorder {
  private pending = new Map<string, DownloadCount>();
  private readonly timer: NodeJS.Timeout;
  private flushing: Promise<void> = Promise.resolve();

  constructor(
    private readonly store: ImageFactsStore,
    private readonly logger: Logger,
    intervalMs: number,
    private readonly flushes?: ResultCounter,
  ) {
    this.timer = setInterval(() => void this.flush(), intervalMs);
    this.timer.unref();
  }

  record(repo: string, digest: Digest): void {
    const key = `${repo}@${digest}`;
    const found = this.pending.get(key);
    if (found) found.count++;
    else this.pending.set(key, { repo, digest, count: 1 });
  }

  /**
   * Stored totals plus what is still in memory. Queued behind any flush (and flushes behind it), so a batch
   * on its way to disk is counted exactly once: before its write it is pending, after it, stored.
   */
  counts(repo: string): Promise<{ total: number; byDigest: Record<string, number> }> {
    const read = this.flushing.then(async () => {
      const stored = await this.store.downloads(repo);
      const byDigest = { ...stored.byDigest };
      let total = stored.total;
      for (const c of this.pending.values()) {
        if (c.repo !== repo) continue;
        byDigest[c.digest] = (byDigest[c.digest] ?? 0) + c.count;
        total += c.count;
      }
      return { total, byDigest };
    });
    this.flushing = read.then(
      () => undefined,
      () => undefined,
    );
    return read;
  }

  flush(): Promise<void> {
    this.flushing = this.flushing.then(async () => {
      if (this.pending.size === 0) return;
      const batch = [...this.pending.values()];
      this.pending = new Map();
      try {
        await this.store.addDownloads(batch);
        this.flushes?.inc({ result: 'success' });
      } catch (err) {
        this.flushes?.inc({ result: 'failure' });
        // Not lost: put back, the next flush tries again.
        for (const c of batch) for (let i = 0; i < c.count; i++) this.record(c.repo, c.digest);
        this.logger.warn({ err: (err as Error).message }, 'download counts not written; will retry');
      }
    });
    return this.flushing;
  }

  async close(): Promise<void> {
    clearInterval(this.timer);
    await this.flush();
  }
}
