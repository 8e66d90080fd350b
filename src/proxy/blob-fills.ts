import type { Digest } from '../oci/digest.js';
import { BlobFill, type BlobFillDeps, type BlobSource } from './blob-fill.js';

/**
 * The registry's in-flight blob fills, one per (upstream, digest): the single-flight table for blobs.
 * Fills run on this table's own abort signal, detached from any client, so a client hanging up does
 * not stop a download others (or the next pull) will use; only closing the registry aborts them.
 */
export class BlobFills {
  private readonly running = new Map<string, BlobFill>();
  private readonly abort = new AbortController();

  constructor(private readonly deps: BlobFillDeps) {}

  get(upstream: string, d: Digest): BlobFill | undefined {
    return this.running.get(key(upstream, d));
  }

  /** Joins the running fill for `d` or starts one; either way `repo` gets linked on commit. */
  async join(d: Digest, source: BlobSource, repo: string): Promise<BlobFill> {
    const k = key(source.upstream, d);
    let fill = this.running.get(k);
    if (!fill) {
      fill = new BlobFill(d, source, this.deps, this.abort.signal);
      this.running.set(k, fill);
      const started = fill;
      void started.done.catch(() => undefined).finally(() => {
        if (this.running.get(k) === started) this.running.delete(k);
      });
    }
    await fill.addLink(repo);
    return fill;
  }

  get size(): number {
    return this.running.size;
  }

  /** Aborts running fills and waits until each has cleaned up its temp file. */
  async close(): Promise<void> {
    this.abort.abort();
    await Promise.allSettled([...this.running.values()].map((f) => f.done));
  }
}

function key(upstream: string, d: Digest): string {
  return `${upstream}|${d}`;
}
