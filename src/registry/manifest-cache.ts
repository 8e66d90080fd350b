import { LRUCache } from 'lru-cache';
import type { Digest } from '../oci/digest.js';
import type { ManifestRecord } from '../metadata/metadata-index.js';
import { topics, type Coordinator } from '../coordination/coordinator.js';

export interface ManifestCacheOptions {
  /**
   * When other processes write the same store: tags and records are held at most this long (ms) and
   * dropped at once when another process announces a change. 0: tags are not cached at all.
   */
  staleBoundMs?: number;
  coordinator?: Coordinator;
}

/**
 * Hot, lossy copies of small metadata so manifest GETs skip the disk.
 * Manifest bytes are content-addressed (never stale); tags and records are invalidated by the writer,
 * and, when workers or replicas share the store, by other processes' announcements within a bound.
 */
export class ManifestCache {
  private readonly bytes: LRUCache<string, Buffer>;
  private readonly tags: LRUCache<string, Digest>;
  private readonly records: LRUCache<string, ManifestRecord>;

  private readonly unsubscribe: () => void;
  private readonly tagsOff: boolean;

  constructor(entries: number, options: ManifestCacheOptions = {}) {
    const max = Math.max(entries, 1);
    const shared = options.coordinator?.shared === true;
    // Shared store: the bound holds even if an invalidation is lost (a replica's Redis link dropped).
    const ttl = shared ? (options.staleBoundMs ?? 1000) : 0;
    this.tagsOff = shared && ttl === 0;
    this.bytes = new LRUCache({ max, maxSize: 256 * 1024 * 1024, sizeCalculation: (b) => b.length || 1 });
    this.tags = new LRUCache(ttl > 0 ? { max, ttl } : { max });
    this.records = new LRUCache(ttl > 0 ? { max, ttl } : { max });
    this.unsubscribe =
      options.coordinator?.onInvalidate((topic) => {
        const t = topics.parse(topic);
        if (t?.kind === 'tag') this.forgetTag(t.repo, t.key);
        else if (t?.kind === 'manifest') this.forgetRecord(t.repo, t.key as Digest);
      }) ?? (() => undefined);
  }

  /** Stops listening to other processes' invalidations. */
  close(): void {
    this.unsubscribe();
  }

  getBytes(d: Digest): Buffer | undefined {
    return this.bytes.get(d);
  }
  setBytes(d: Digest, body: Buffer): void {
    this.bytes.set(d, body);
  }

  getTag(repo: string, tag: string): Digest | undefined {
    return this.tags.get(`${repo}:${tag}`);
  }
  setTag(repo: string, tag: string, d: Digest): void {
    if (this.tagsOff) return;
    this.tags.set(`${repo}:${tag}`, d);
  }
  forgetTag(repo: string, tag: string): void {
    this.tags.delete(`${repo}:${tag}`);
  }

  getRecord(repo: string, d: Digest): ManifestRecord | undefined {
    return this.records.get(`${repo}@${d}`);
  }
  setRecord(repo: string, record: ManifestRecord): void {
    this.records.set(`${repo}@${record.digest}`, record);
  }
  forgetRecord(repo: string, d: Digest): void {
    this.records.delete(`${repo}@${d}`);
  }
}
