import type { Digest } from '../oci/digest.js';
import type { StoredBlob } from '../storage/blob-store.js';
import type { LiveBlobs } from './live-blobs.js';
import { closure, type ManifestReferences } from './store-graph.js';

export type Verdict = 'referenced' | 'in-flight' | 'grace' | 'unreferenced';

/**
 * The one answer to "may this blob go?", asked by every sweeper (GC and eviction). A blob stays when
 *   - a manifest record references it (hosted or cached; eviction removes the cached records first),
 *     or a deleted manifest still in the trash window does (its digests are among the roots);
 *   - it is in flight in this process: being filled, served or referenced by a manifest PUT now, or at
 *     any moment since the sweep began (LiveBlobs generations);
 *   - it was written or touched after `notAfter` (the grace period for GC: blobs pushed before their
 *     manifest; the sweep's start for eviction). The deletion re-checks that time atomically.
 */
export class BlobRetention {
  private constructor(
    private readonly referenced: ReadonlySet<Digest>,
    private readonly live: LiveBlobs,
    readonly generation: number,
    readonly notAfter: number,
  ) {}

  static async build(o: { roots: Iterable<Digest>; refs: ManifestReferences; live: LiveBlobs; generation: number; notAfter: number; extra?: Iterable<Digest> }): Promise<BlobRetention> {
    const referenced = await closure(o.roots, o.refs);
    for (const d of o.extra ?? []) referenced.add(d);
    return new BlobRetention(referenced, o.live, o.generation, o.notAfter);
  }

  isReferenced(d: Digest): boolean {
    return this.referenced.has(d);
  }

  verdict(blob: Pick<StoredBlob, 'digest' | 'modifiedAt'>): Verdict {
    if (this.referenced.has(blob.digest)) return 'referenced';
    if (this.live.heldSince(blob.digest, this.generation)) return 'in-flight';
    if (blob.modifiedAt > this.notAfter) return 'grace';
    return 'unreferenced';
  }
}
