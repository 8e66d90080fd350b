import { Readable } from 'node:stream';
import { buffer } from 'node:stream/consumers';
import type { ContentIntegrity } from '../lifecycle/integrity.js';
import type { ManifestRecord, MetadataIndex } from '../metadata/metadata-index.js';
import { digestOf, digestParts, isDigest, type Digest } from '../oci/digest.js';
import { OciError, isOciError } from '../oci/errors.js';
import { parseManifest } from '../oci/manifest.js';
import { acceptsManifest } from '../oci/media-types.js';
import { parseTag } from '../oci/names.js';
import type { Clock, Descriptor, Page } from '../oci/types.js';
import type { BlobStore, Upload, UploadStore } from '../storage/blob-store.js';
import type { ManifestCache } from './manifest-cache.js';
import type { BlobHandle, ManifestResult, PutManifestResult, Repository } from './repository.js';

export interface HostedContext {
  blobs: BlobStore;
  uploads: UploadStore;
  index: MetadataIndex;
  cache: ManifestCache;
  clock: Clock;
  deleteEnabled: boolean;
  /** Verifies stored bytes as they are read (issue 10); absent: served as stored. */
  integrity?: ContentIntegrity;
  /** Lifecycle (issue 11): deleted manifests and tags go here first, restorable for a while. */
  trash?: { put(entry: { repo: string; digest: Digest; tags: string[]; kind: 'tag' | 'manifest'; record?: ManifestRecord }): Promise<void> };
  /** Lifecycle: holds blobs a manifest PUT references until its record is written, so a sweep keeps them. */
  live?: { pin(digests: readonly Digest[]): Promise<() => void> };
}

/** A repository whose content was pushed here. */
export class HostedRepository implements Repository {
  constructor(
    readonly name: string,
    private readonly ctx: HostedContext,
  ) {}

  async getManifest(ref: string, accept: readonly string[]): Promise<ManifestResult> {
    const record = await this.findManifest(ref);
    if (!acceptsManifest(accept, record.mediaType)) {
      throw new OciError('MANIFEST_UNKNOWN', `manifest found as ${record.mediaType}, which the Accept header does not allow`);
    }
    return { descriptor: descriptorOf(record), body: await this.manifestBytes(record.digest) };
  }

  peekManifest(ref: string, accept: readonly string[]): ManifestResult | undefined {
    const { cache } = this.ctx;
    const digest = isDigest(ref) ? ref : cache.getTag(this.name, ref);
    const record = digest && cache.getRecord(this.name, digest);
    const body = record && cache.getBytes(record.digest);
    if (!record || !body || !acceptsManifest(accept, record.mediaType)) return undefined;
    return { descriptor: descriptorOf(record), body };
  }

  async headManifest(ref: string, accept: readonly string[]): Promise<Descriptor> {
    const record = await this.findManifest(ref);
    if (!acceptsManifest(accept, record.mediaType)) {
      throw new OciError('MANIFEST_UNKNOWN', `manifest found as ${record.mediaType}, which the Accept header does not allow`);
    }
    return descriptorOf(record);
  }

  async putManifest(ref: string, contentType: string | undefined, body: Buffer): Promise<PutManifestResult> {
    const byDigest = isDigest(ref);
    const tag = byDigest ? undefined : parseTag(ref);
    const algorithm = byDigest ? digestParts(ref as Digest).algorithm : 'sha256';
    const digest = digestOf(body, algorithm);
    if (byDigest && digest !== ref) {
      throw new OciError('DIGEST_INVALID', 'manifest digest does not match the reference', { detail: { reference: ref, actual: digest } });
    }
    const parsed = parseManifest(body, contentType);
    const release = await this.ctx.live?.pin([digest, ...parsed.blobs.map((r) => r.digest), ...parsed.manifests.map((r) => r.digest)]);
    try {
      return await this.storeManifest(tag, digest, body, parsed);
    } finally {
      release?.();
    }
  }

  private async storeManifest(tag: string | undefined, digest: Digest, body: Buffer, parsed: ReturnType<typeof parseManifest>): Promise<PutManifestResult> {
    await this.requireReferences(parsed.blobs, parsed.manifests);

    await this.ctx.blobs.put(Readable.from([body]), digest, { size: body.length });
    const record: ManifestRecord = {
      mediaType: parsed.mediaType,
      digest,
      size: body.length,
      createdAt: this.ctx.clock.now(),
      origin: 'hosted',
    };
    if (parsed.artifactType !== undefined) record.artifactType = parsed.artifactType;
    if (parsed.annotations !== undefined) record.annotations = parsed.annotations;
    if (parsed.subject) record.subject = parsed.subject.digest;
    await this.ctx.index.addManifest(this.name, record);
    this.ctx.cache.setBytes(digest, body);
    this.ctx.cache.forgetRecord(this.name, digest);
    if (parsed.subject) await this.ctx.index.addReferrer(this.name, parsed.subject.digest, referrerDescriptor(record));
    if (tag !== undefined) {
      await this.ctx.index.setTag(this.name, tag, digest);
      this.ctx.cache.setTag(this.name, tag, digest);
    }
    return { descriptor: descriptorOf(record), subject: parsed.subject?.digest };
  }

  async deleteManifest(ref: string): Promise<void> {
    this.requireDeleteEnabled();
    if (!isDigest(ref)) {
      parseTag(ref);
      this.ctx.cache.forgetTag(this.name, ref);
      const target = await this.ctx.index.resolveTag(this.name, ref);
      if (target) await this.ctx.trash?.put({ repo: this.name, digest: target, tags: [ref], kind: 'tag' });
      if (!(await this.ctx.index.deleteTag(this.name, ref))) throw new OciError('MANIFEST_UNKNOWN', undefined, { detail: { tag: ref } });
      return;
    }
    const record = await this.ctx.index.getManifest(this.name, ref);
    if (!record) throw new OciError('MANIFEST_UNKNOWN', undefined, { detail: { digest: ref } });
    const tags = await this.ctx.index.tagsFor(this.name, ref);
    await this.ctx.trash?.put({ repo: this.name, digest: ref, tags, kind: 'manifest', record });
    for (const tag of tags) {
      this.ctx.cache.forgetTag(this.name, tag);
      await this.ctx.index.deleteTag(this.name, tag);
    }
    if (record.subject) await this.ctx.index.removeReferrer(this.name, record.subject, ref);
    this.ctx.cache.forgetRecord(this.name, ref);
    await this.ctx.index.deleteManifest(this.name, ref);
  }

  async statBlob(d: Digest): Promise<{ size: number }> {
    const stat = (await this.ctx.index.hasBlob(this.name, d)) ? await this.ctx.blobs.stat(d) : undefined;
    if (!stat) throw new OciError('BLOB_UNKNOWN', undefined, { detail: { digest: d } });
    return stat;
  }

  async getBlob(d: Digest): Promise<BlobHandle> {
    const { size } = await this.statBlob(d);
    const handle: BlobHandle = { size, open: (range) => this.ctx.blobs.open(d, range) };
    const { blobs, integrity } = this.ctx;
    if (blobs.openCopy) handle.openCopy = (range) => blobs.openCopy!(d, range);
    if (blobs.redirectUrl) handle.redirect = () => blobs.redirectUrl!(d);
    return integrity ? integrity.serve(d, handle) : handle;
  }

  async deleteBlob(d: Digest): Promise<void> {
    this.requireDeleteEnabled();
    // Only the link goes: other repositories may share the content; unreferenced blobs are for GC.
    if (!(await this.ctx.index.unlinkBlob(this.name, d))) throw new OciError('BLOB_UNKNOWN', undefined, { detail: { digest: d } });
  }

  async mountBlob(d: Digest, from: string): Promise<boolean> {
    if (!(await this.ctx.index.hasBlob(from, d)) || !(await this.ctx.blobs.stat(d))) return false;
    await this.ctx.index.linkBlob(this.name, d);
    return true;
  }

  async putBlob(body: Readable, d: Digest, size?: number): Promise<{ digest: Digest; size: number }> {
    const result = await this.ctx.blobs.put(body, d, { size });
    await this.ctx.index.linkBlob(this.name, d);
    return result;
  }

  startUpload(owner?: string): Promise<Upload> {
    return this.ctx.uploads.start(this.name, owner);
  }

  async getUpload(id: string): Promise<Upload> {
    const upload = await this.ctx.uploads.get(id);
    if (!upload || upload.repo !== this.name) throw new OciError('BLOB_UPLOAD_UNKNOWN', undefined, { detail: { uuid: id.slice(0, 64) } });
    return upload;
  }

  async appendUpload(id: string, chunk: Readable, at?: number): Promise<Upload> {
    await this.getUpload(id);
    return this.ctx.uploads.append(id, chunk, at);
  }

  async finishUpload(id: string, d: Digest, last?: Readable): Promise<{ digest: Digest; size: number }> {
    await this.getUpload(id);
    const result = await this.ctx.uploads.finish(id, d, last);
    await this.ctx.index.linkBlob(this.name, d);
    return result;
  }

  async cancelUpload(id: string): Promise<void> {
    await this.getUpload(id);
    await this.ctx.uploads.cancel(id);
  }

  async listTags(page: Page): Promise<string[]> {
    const tags = await this.ctx.index.listTags(this.name, page);
    if (!tags) throw new OciError('NAME_UNKNOWN', undefined, { detail: { name: this.name } });
    return tags;
  }

  async referrers(subject: Digest, artifactType?: string): Promise<Descriptor[]> {
    const all = await this.ctx.index.referrers(this.name, subject);
    return artifactType === undefined ? all : all.filter((r) => r.artifactType === artifactType);
  }

  private async findManifest(ref: string): Promise<ManifestRecord> {
    const digest = isDigest(ref) ? ref : await this.resolveTag(parseTag(ref));
    const record = digest && (await this.record(digest));
    if (!record) throw new OciError('MANIFEST_UNKNOWN', undefined, { detail: { reference: ref } });
    return record;
  }

  private async resolveTag(tag: string): Promise<Digest | undefined> {
    const cached = this.ctx.cache.getTag(this.name, tag);
    if (cached) return cached;
    const digest = await this.ctx.index.resolveTag(this.name, tag);
    if (digest) this.ctx.cache.setTag(this.name, tag, digest);
    return digest;
  }

  private async record(d: Digest): Promise<ManifestRecord | undefined> {
    const cached = this.ctx.cache.getRecord(this.name, d);
    if (cached) return cached;
    const record = await this.ctx.index.getManifest(this.name, d);
    if (record) this.ctx.cache.setRecord(this.name, record);
    return record;
  }

  private async manifestBytes(d: Digest): Promise<Buffer> {
    const cached = this.ctx.cache.getBytes(d);
    if (cached) return cached;
    const { integrity } = this.ctx;
    let stream: Readable;
    try {
      stream = await this.ctx.blobs.open(d);
    } catch (err) {
      if (integrity && isOciError(err, 'BLOB_UNKNOWN')) throw integrity.missingManifest(d, this.name);
      throw err;
    }
    // Verified on every read from disk: only bytes that hash to their digest reach the cache or a client.
    const body = integrity ? await integrity.checkManifest(d, await buffer(stream), this.name) : await buffer(stream);
    this.ctx.cache.setBytes(d, body);
    return body;
  }

  private async requireReferences(blobs: readonly Descriptor[], manifests: readonly Descriptor[]): Promise<void> {
    for (const b of blobs) {
      // touch(): also marks the blob as just referenced, so a sweep in another process keeps it.
      if (!(await this.ctx.index.hasBlob(this.name, b.digest)) || !(await (this.ctx.blobs.touch ? this.ctx.blobs.touch(b.digest) : this.ctx.blobs.stat(b.digest)))) {
        throw new OciError('MANIFEST_BLOB_UNKNOWN', `blob unknown to registry: ${b.digest}`, { detail: { digest: b.digest } });
      }
    }
    for (const m of manifests) {
      if (!(await this.record(m.digest))) {
        throw new OciError('MANIFEST_BLOB_UNKNOWN', `manifest unknown to registry: ${m.digest}`, { detail: { digest: m.digest } });
      }
    }
  }

  private requireDeleteEnabled(): void {
    if (!this.ctx.deleteEnabled) throw new OciError('UNSUPPORTED', 'deletion is disabled on this registry');
  }
}

export function descriptorOf(record: ManifestRecord): Descriptor {
  return { mediaType: record.mediaType, digest: record.digest, size: record.size };
}

function referrerDescriptor(record: ManifestRecord): Descriptor {
  const d: Descriptor = { mediaType: record.mediaType, digest: record.digest, size: record.size };
  if (record.artifactType !== undefined) d.artifactType = record.artifactType;
  if (record.annotations !== undefined) d.annotations = record.annotations;
  return d;
}
