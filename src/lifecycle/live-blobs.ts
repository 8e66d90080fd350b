import type { Digest } from '../oci/digest.js';

/** A mirror fill as the lifecycle sees it: its size once known, settled when committed or failed. */
export interface FillView {
  readonly digest: Digest;
  readonly size: number | undefined;
  readonly done: Promise<void>;
}

/**
 * Blobs in use in this process right now, and the guard every sweeper passes before deleting one.
 *
 * A sweep (GC or eviction) decides from a snapshot of the index; a manifest PUT may check a blob and
 * write its record after that snapshot was read. So a blob is kept when anything held it at any moment
 * since the sweep began: holds record the generation at which they were taken and released, and a
 * sweep starts a new generation. A deletion in progress makes new holders wait until it is over, so a
 * PUT that pins a blob either sees it deleted (MANIFEST_BLOB_UNKNOWN, nothing acknowledged) or keeps it.
 */
export class LiveBlobs {
  private generation = 0;
  private readonly holds = new Map<Digest, number>();
  /** Generation at which each digest was last taken or released (pruned after sweeps). */
  private readonly lastHeld = new Map<Digest, number>();
  private readonly deleting = new Map<Digest, Promise<unknown>>();
  private readonly fills = new Set<FillView>();
  private readonly sweeps = new Set<number>();

  /** Holds one blob without waiting (serving, filling); returns the release. */
  hold(d: Digest): () => void {
    this.holds.set(d, (this.holds.get(d) ?? 0) + 1);
    this.lastHeld.set(d, this.generation);
    let released = false;
    return () => {
      if (released) return;
      released = true;
      const n = (this.holds.get(d) ?? 1) - 1;
      if (n <= 0) this.holds.delete(d);
      else this.holds.set(d, n);
      this.lastHeld.set(d, this.generation);
    };
  }

  /** Holds blobs a writer is about to reference, after any deletion of them in progress has finished. */
  async pin(digests: readonly Digest[]): Promise<() => void> {
    const releases = digests.map((d) => this.hold(d));
    await Promise.all(digests.map((d) => this.deleting.get(d)?.catch(() => undefined)));
    return () => {
      for (const r of releases) r();
    };
  }

  /** A mirror fill: its blob is held, and its bytes count as in flight, until it settles. */
  trackFill(fill: FillView): void {
    if (this.fills.has(fill)) return;
    this.fills.add(fill);
    const release = this.hold(fill.digest);
    void fill.done.catch(() => undefined).finally(() => {
      this.fills.delete(fill);
      release();
    });
  }

  /** Bytes of fills not yet committed (size known). */
  inFlightBytes(): number {
    let sum = 0;
    for (const f of this.fills) sum += f.size ?? 0;
    return sum;
  }

  largestInFlight(): number {
    let max = 0;
    for (const f of this.fills) max = Math.max(max, f.size ?? 0);
    return max;
  }

  isHeld(d: Digest): boolean {
    return this.holds.has(d);
  }

  beginSweep(): number {
    const g = ++this.generation;
    this.sweeps.add(g);
    return g;
  }

  endSweep(g: number): void {
    this.sweeps.delete(g);
    const oldest = Math.min(this.generation + 1, ...this.sweeps);
    for (const [d, at] of this.lastHeld) if (at < oldest && !this.holds.has(d)) this.lastHeld.delete(d);
  }

  /** True when `d` is held now or was held since sweep `g` began: the sweep must keep it. */
  heldSince(d: Digest, g: number): boolean {
    return this.holds.has(d) || (this.lastHeld.get(d) ?? -1) >= g;
  }

  /**
   * Runs `remove` for `d` unless it was held since sweep `g` began; holders arriving meanwhile wait.
   * The check and the registration happen in one turn of the event loop, so no pin slips between them.
   */
  async deleteUnlessHeld<T>(d: Digest, g: number, remove: () => Promise<T>): Promise<T | 'held'> {
    if (this.heldSince(d, g) || this.deleting.has(d)) return 'held';
    const running = remove();
    this.deleting.set(d, running);
    try {
      return await running;
    } finally {
      this.deleting.delete(d);
    }
  }
}
