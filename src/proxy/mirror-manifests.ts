import { Readable } from 'node:stream';
import { isDigest, type Digest } from '../oci/digest.js';
import { isOciError } from '../oci/errors.js';
import { parseManifest } from '../oci/manifest.js';
import { parseTag } from '../oci/names.js';
import type { Descriptor } from '../oci/types.js';
import type { ManifestRecord } from '../metadata/metadata-index.js';
import type { MirrorContext } from './mirror-context.js';
import type { MirrorRoute } from './upstream-router.js';

/**
 * Resolves a manifest reference of a mirrored repository to a digest held locally, fetching from the
 * upstream when needed. By digest: immutable, cached forever. By tag: trusted for the upstream's TTL,
 * then revalidated with a HEAD and refetched only when the digest moved; when the upstream fails,
 * the cached tag is served (stale-if-error). A tag pushed here (hosted shadow) is never revalidated.
 */
export class ManifestMirror {
  constructor(
    private readonly route: MirrorRoute,
    private readonly ctx: MirrorContext,
  ) {}

  private get labels() {
    return { upstream: this.route.upstream.config.name };
  }

  async resolve(ref: string): Promise<Digest> {
    return isDigest(ref) ? this.byDigest(ref) : this.byTag(parseTag(ref));
  }

  private async byDigest(d: Digest): Promise<Digest> {
    if (await this.ctx.index.getManifest(this.route.localName, d)) {
      this.ctx.metrics.cacheHits.inc({ ...this.labels, kind: 'manifest' });
      return d;
    }
    this.ctx.metrics.cacheMisses.inc({ ...this.labels, kind: 'manifest' });
    return this.ctx.flights.run(`manifest|${this.route.localName}@${d}`, async () => {
      const { descriptor, body } = await this.route.upstream.client.getManifest(this.route.remoteName, d);
      await this.store(descriptor, body);
      return d;
    });
  }

  /** Fetches `d` from upstream again and stores it over a local copy found corrupt (and quarantined). */
  async refetch(d: Digest): Promise<void> {
    this.ctx.metrics.cacheMisses.inc({ ...this.labels, kind: 'manifest' });
    await this.ctx.flights.run(`manifest|${this.route.localName}@${d}`, async () => {
      const { descriptor, body } = await this.route.upstream.client.getManifest(this.route.remoteName, d);
      await this.store(descriptor, body);
      return d;
    });
  }

  private async byTag(tag: string): Promise<Digest> {
    const { localName } = this.route;
    const cached = await this.ctx.index.resolveTag(localName, tag);
    const record = cached && (await this.ctx.index.getManifest(localName, cached));
    if (cached && record) {
      if (record.origin === 'hosted') return cached;
      if (await this.ctx.freshness.isFresh(localName, tag, cached, this.route.upstream.config.tagTtlSeconds)) {
        this.ctx.metrics.cacheHits.inc({ ...this.labels, kind: 'manifest' });
        return cached;
      }
    }
    this.ctx.metrics.cacheMisses.inc({ ...this.labels, kind: 'manifest' });
    // One revalidation or fetch per tag at a time, shared by every concurrent client.
    return this.ctx.flights.run(`tag|${localName}:${tag}`, () => (cached && record ? this.revalidate(tag, cached) : this.fetchTag(tag)));
  }

  private async revalidate(tag: string, cached: Digest): Promise<Digest> {
    const { localName, remoteName, upstream } = this.route;
    let current: Descriptor;
    try {
      // HEAD: Docker Hub does not count it against the pull rate limit.
      current = await upstream.client.headManifest(remoteName, tag);
    } catch (err) {
      if (isOciError(err, 'MANIFEST_UNKNOWN') || isOciError(err, 'NAME_UNKNOWN')) throw err;
      this.ctx.metrics.cacheStaleServed.inc({ ...this.labels, kind: 'manifest' });
      this.ctx.logger.warn(
        { upstream: upstream.config.name, repository: localName, tag, digest: cached, err: (err as Error).message },
        'upstream failed to revalidate a tag; serving the cached manifest (stale-if-error)',
      );
      return cached;
    }
    if (current.digest !== cached) {
      if (!(await this.ctx.index.getManifest(localName, current.digest))) {
        const { descriptor, body } = await upstream.client.getManifest(remoteName, current.digest);
        await this.store(descriptor, body);
      }
      await this.setTag(tag, current.digest);
      this.ctx.logger.info({ upstream: upstream.config.name, repository: localName, tag, from: cached, to: current.digest }, 'upstream tag moved');
    }
    await this.ctx.freshness.confirm(localName, tag, current.digest);
    return current.digest;
  }

  private async fetchTag(tag: string): Promise<Digest> {
    const { descriptor, body } = await this.route.upstream.client.getManifest(this.route.remoteName, tag);
    await this.store(descriptor, body);
    await this.setTag(tag, descriptor.digest);
    await this.ctx.freshness.confirm(this.route.localName, tag, descriptor.digest);
    return descriptor.digest;
  }

  /** Into the same store and index as pushed manifests, marked 'cached'. */
  private async store(descriptor: Descriptor, body: Buffer): Promise<void> {
    const { localName } = this.route;
    await this.ctx.blobs.put(Readable.from([body]), descriptor.digest, { size: body.length });
    const record: ManifestRecord = { ...descriptor, createdAt: this.ctx.clock.now(), origin: 'cached' };
    let subject: Digest | undefined;
    try {
      const parsed = parseManifest(body, descriptor.mediaType);
      if (parsed.artifactType !== undefined) record.artifactType = parsed.artifactType;
      if (parsed.annotations !== undefined) record.annotations = parsed.annotations;
      subject = parsed.subject?.digest;
      if (subject) record.subject = subject;
    } catch {
      // Served as the upstream sent it; our push-side validation is stricter than what upstreams hold.
    }
    await this.ctx.index.addManifest(localName, record);
    this.ctx.cache.setBytes(descriptor.digest, body);
    this.ctx.cache.forgetRecord(localName, descriptor.digest);
    if (subject) {
      const referrer: Descriptor = { mediaType: record.mediaType, digest: record.digest, size: record.size };
      if (record.artifactType !== undefined) referrer.artifactType = record.artifactType;
      if (record.annotations !== undefined) referrer.annotations = record.annotations;
      await this.ctx.index.addReferrer(localName, subject, referrer);
    }
  }

  private async setTag(tag: string, d: Digest): Promise<void> {
    await this.ctx.index.setTag(this.route.localName, tag, d);
    this.ctx.cache.setTag(this.route.localName, tag, d);
  }
}
