import type { Readable } from 'node:stream';
import { LRUCache } from 'lru-cache';
import type { MetadataIndex } from '../metadata/metadata-index.js';
import type { Digest } from '../oci/digest.js';
import type { Descriptor, Page } from '../oci/types.js';
import type { BlobHandle, ManifestResult, PutManifestResult, Repository, Upload } from '../registry/repository.js';

/**
 * Remembers which mirrored names hold pushed (hosted) content. A push through this registry marks its
 * name at once; an unknown name is looked up in the index (its tags' records) and the answer kept for
 * a few seconds, so the hot path of a mirrored name does not scan its tags on every request. Another
 * replica's first push to a name is seen here within that time.
 */
export class HostedContentIndex {
  private readonly known: LRUCache<string, boolean>;

  constructor(
    private readonly index: MetadataIndex,
    ttlMs = 5_000,
    max = 10_000,
  ) {
    this.known = new LRUCache<string, boolean>({ max, ttl: ttlMs });
  }

  markHosted(name: string): void {
    this.known.set(name, true);
  }

  async hasHostedContent(name: string): Promise<boolean> {
    const cached = this.known.get(name);
    if (cached !== undefined) return cached;
    const found = await this.scan(name);
    this.known.set(name, found);
    return found;
  }

  private async scan(name: string): Promise<boolean> {
    for (const tag of (await this.index.listTags(name, {})) ?? []) {
      const digest = await this.index.resolveTag(name, tag);
      const record = digest && (await this.index.getManifest(name, digest));
      if (record && record.origin === 'hosted') return true;
    }
    return false;
  }
}

/**
 * A mirrored name on an upstream with `allowHostedShadow: true`. Once the name holds pushed content it
 * is served from the hosted side only: a missing tag, manifest or blob is a 404 there, never an
 * upstream lookup (the upstream's same-named repository is someone else's). Until then it is an
 * ordinary mirrored repository. Writes always go to the hosted side.
 */
export class ShadowedRepository implements Repository {
  readonly name: string;

  constructor(
    private readonly mirror: Repository,
    private readonly local: Repository,
    private readonly hosted: HostedContentIndex,
  ) {
    this.name = mirror.name;
  }

  private async reader(): Promise<Repository> {
    return (await this.hosted.hasHostedContent(this.local.name)) ? this.local : this.mirror;
  }

  async getManifest(ref: string, accept: readonly string[]): Promise<ManifestResult> {
    return (await this.reader()).getManifest(ref, accept);
  }
  async headManifest(ref: string, accept: readonly string[]): Promise<Descriptor> {
    return (await this.reader()).headManifest(ref, accept);
  }
  async statBlob(d: Digest): Promise<{ size: number }> {
    return (await this.reader()).statBlob(d);
  }
  async getBlob(d: Digest): Promise<BlobHandle> {
    return (await this.reader()).getBlob(d);
  }
  async listTags(page: Page): Promise<string[]> {
    return (await this.reader()).listTags(page);
  }
  async referrers(subject: Digest, artifactType?: string): Promise<Descriptor[]> {
    return (await this.reader()).referrers(subject, artifactType);
  }

  async putManifest(ref: string, mediaType: string | undefined, body: Buffer): Promise<PutManifestResult> {
    const result = await this.local.putManifest(ref, mediaType, body);
    this.hosted.markHosted(this.local.name);
    return result;
  }
  deleteManifest(ref: string): Promise<void> {
    return this.local.deleteManifest(ref);
  }
  deleteBlob(d: Digest): Promise<void> {
    return this.local.deleteBlob(d);
  }
  mountBlob(d: Digest, from: string): Promise<boolean> {
    return this.local.mountBlob(d, from);
  }
  putBlob(body: Readable, d: Digest, size?: number): Promise<{ digest: Digest; size: number }> {
    return this.local.putBlob(body, d, size);
  }
  startUpload(...args: Parameters<Repository['startUpload']>): Promise<Upload> {
    return this.local.startUpload(...args);
  }
  getUpload(id: string): Promise<Upload> {
    return this.local.getUpload(id);
  }
  appendUpload(id: string, chunk: Readable, at?: number): Promise<Upload> {
    return this.local.appendUpload(id, chunk, at);
  }
  finishUpload(id: string, d: Digest, last?: Readable): Promise<{ digest: Digest; size: number }> {
    return this.local.finishUpload(id, d, last);
  }
  cancelUpload(id: string): Promise<void> {
    return this.local.cancelUpload(id);
  }
}
