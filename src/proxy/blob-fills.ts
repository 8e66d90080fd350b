import type { Digest } from '../oci/digest.js';
import type { FillOwnership } from '../coordination/fill-ownership.js';
import { BlobFill, type BlobFillDeps, type BlobSource } from './blob-fill.js';

/**
 * The registry's in-flight blob fills, one per (upstream, digest): the single-flight table for blobs.
 * Fills run on this table's own abort signal, detached from any client, so a client hanging up does
 * not stop a download others (or the next pull) will use; only closing the registry aborts them.
 */
export class BlobFills {
  private readonly running = new Map<string, BlobFill>();
  private readonly abort = new AbortController();

  /** Claims in flight for fill ownership across processes, one per key (several workers or replicas). */
  private readonly claims = new Map<string, Promise<boolean>>();

  constructor(
    private readonly deps: BlobFillDeps,
    private readonly ownership?: FillOwnership,
  ) {}

  /**
   * join() across processes sharing the store: only the process owning the fill's lease downloads.
   * undefined: another process filled the blob and it is in the shared store now.
   */
  async joinOwned(d: Digest, source: BlobSource, repo: string): Promise<BlobFill | undefined> {
    const k = key(source.upstream, d);
    const ownership = this.ownership;
    if (!ownership || this.running.has(k)) return this.join(d, source, repo);
    let claim = this.claims.get(k);
    if (!claim) {
      claim = ownership.claim(k, d).then((lease) => {
        if (!lease) return false;
        const fill = this.start(k, d, source);
        void fill.done.catch(() => undefined).finally(() => lease.release().catch(() => undefined));
        return true;
      });
      const started = claim;
      void started.catch(() => undefined).finally(() => {
        if (this.claims.get(k) === started) this.claims.delete(k);
      });
      this.claims.set(k, claim);
    }
    return (await claim) ? this.join(d, source, repo) : undefined;
  }

  get(upstream: string, d: Digest): BlobFill | undefined {
    return this.running.get(key(upstream, d));
  }

  /** Joins the running fill for `d` or starts one; either way `repo` gets linked on commit. */
  async join(d: Digest, source: BlobSource, repo: string): Promise<BlobFill> {
    const k = key(source.upstream, d);
    const fill = this.running.get(k) ?? this.start(k, d, source);
    await fill.addLink(repo);
    return fill;
  }

  private start(k: string, d: Digest, source: BlobSource): BlobFill {
    const fill = new BlobFill(d, source, this.deps, this.abort.signal);
    this.running.set(k, fill);
    void fill.done.catch(() => undefined).finally(() => {
      if (this.running.get(k) === fill) this.running.delete(k);
    });
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
