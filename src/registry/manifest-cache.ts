import { LRUCache } from 'lru-cache';
import type { Digest } from '../oci/digest.js';
import type { ManifestRecord } from '../metadata/metadata-index.js';

/**
 * Hot, lossy copies of small metadata so manifest GETs skip the disk.
 * Manifest bytes are content-addressed (never stale); tags and records are invalidated by the writer.
 */
export class ManifestCache {
  private readonly bytes: LRUCache<string, Buffer>;
  private readonly tags: LRUCache<string, Digest>;
  private readonly records: LRUCache<string, ManifestRecord>;

  constructor(entries: number) {
    const max = Math.max(entries, 1);
    this.bytes = new LRUCache({ max, maxSize: 256 * 1024 * 1024, sizeCalculation: (b) => b.length || 1 });
    this.tags = new LRUCache({ max });
    this.records = new LRUCache({ max });
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
