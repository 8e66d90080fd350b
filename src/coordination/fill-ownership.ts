import type { Digest } from '../oci/digest.js';
import type { BlobStore } from '../storage/blob-store.js';
import type { Coordinator, Lease } from './coordinator.js';

/**
 * Which process downloads a blob from upstream, when several share the store: the one holding the lease
 * on the fill's key. The others wait for it to let go (commit, failure, or a lapsed lease when it died)
 * and then read the blob from the shared store, or take the lease themselves when the blob is not there.
 * Only used when the coordinator is shared; one worker single-flights in memory alone (BlobFills).
 */
export class FillOwnership {
  constructor(
    private readonly coordinator: Coordinator,
    private readonly blobs: BlobStore,
    private readonly leaseMs: number,
  ) {}

  /** A lease: this process fills. undefined: the blob is in the shared store now (another process filled it). */
  async claim(key: string, d: Digest): Promise<Lease | undefined> {
    const lockKey = `fill:${key}`;
    for (;;) {
      if (await this.blobs.stat(d)) return undefined;
      const lease = await this.coordinator.tryLock(lockKey, this.leaseMs);
      if (lease) {
        // The previous owner may have committed between the stat and the lock.
        if (!(await this.blobs.stat(d))) return lease;
        await lease.release();
        return undefined;
      }
      await this.coordinator.waitUnlocked(lockKey, this.leaseMs);
    }
  }
}
