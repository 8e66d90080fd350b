import type { Readable } from 'node:stream';
import { LRUCache } from 'lru-cache';
import type { Logger } from 'pino';
import type { Metrics } from '../metrics/metrics.js';
import { digestOf, digestParts, type Digest } from '../oci/digest.js';
import { OciError } from '../oci/errors.js';
import type { ByteRange } from '../oci/types.js';
import type { BlobStore } from '../storage/blob-store.js';
import type { BlobCopy } from '../storage/file-copy.js';
import { verifyingCopy, verifyingStream, type VerifyResult } from './verifying-copy.js';

export type CorruptKind = 'blob' | 'manifest' | 'record';

/**
 * Stored content that no longer hashes to its digest (or a manifest whose bytes are gone): answered as
 * MANIFEST_UNKNOWN / BLOB_UNKNOWN to clients of hosted content, and the signal for a mirror to refetch.
 */
export class CorruptContentError extends OciError {
  constructor(
    readonly kind: CorruptKind,
    readonly digest: Digest,
  ) {
    super(kind === 'blob' ? 'BLOB_UNKNOWN' : 'MANIFEST_UNKNOWN', `stored ${kind} is corrupt and was quarantined`, { detail: { digest } });
  }
}

/** A readable blob as the repository layer hands it out (structurally the registry's BlobHandle). */
export interface ServedBlob {
  size: number;
  open(range?: ByteRange): Promise<Readable>;
  openCopy?(range?: ByteRange): Promise<BlobCopy>;
}

export interface IntegrityDeps {
  blobs: BlobStore;
  metrics: Metrics;
  logger: Logger;
  /** 'first': hash a blob on its first whole read since start, 'always': on every whole read. */
  verifyBlobReads: 'first' | 'always';
  /** Blobs remembered as verified; past this the oldest are forgotten (and verified again when read). */
  rememberVerified?: number;
}

/**
 * Decides what is corrupt and what happens to it (issue 10): manifests are hashed on every read from
 * disk; blobs on their first whole read since start (or every one), inline, cutting the connection
 * before the last byte on a mismatch; ranges cannot be checked inline, so they only queue the blob for
 * the scrub. Corrupt content is quarantined by the store (moved aside, never deleted), logged and
 * counted; a mirror then refetches it on the next pull because it is simply absent.
 */
export class ContentIntegrity {
  /** Digest → when its stored bytes last hashed right (ms). */
  private readonly verified: LRUCache<string, number>;
  private readonly listeners: Array<(d: Digest) => void> = [];

  constructor(private readonly deps: IntegrityDeps) {
    // maxSize rather than max: lru-cache preallocates `max` slots at construction (MBs of idle RSS, a start-up stall).
    this.verified = new LRUCache({ maxSize: deps.rememberVerified ?? 1_000_000, sizeCalculation: () => 1 });
  }

  /** Whether `d` was hashed and found intact at or after `since` (ms) in this process. */
  verifiedSince(d: Digest, since: number): boolean {
    return (this.verified.get(d) ?? -Infinity) >= since;
  }

  markVerified(d: Digest, path: 'read' | 'scrub'): void {
    this.verified.set(d, Date.now());
    this.deps.metrics.storeBlobsVerified.inc({ path });
  }

  /** Called with blobs served by range before they were verified (the scrub checks them next). */
  onUnverifiedRange(listener: (d: Digest) => void): void {
    this.listeners.push(listener);
  }

  /** Checks manifest bytes just read from disk; on a mismatch quarantines them and throws CorruptContentError. */
  async checkManifest(d: Digest, body: Buffer, repo: string): Promise<Buffer> {
    const actual = digestOf(body, digestParts(d).algorithm);
    if (actual === d) return body;
    await this.corrupt('manifest', d, { repository: repo, actual, size: body.length });
    throw new CorruptContentError('manifest', d);
  }

  /**
   * A manifest whose record exists but whose bytes are gone from the store (quarantined earlier, or
   * lost): answered like a corrupt one. Logged, not counted: the metric counts what was quarantined.
   */
  missingManifest(d: Digest, repo: string): CorruptContentError {
    this.deps.logger.warn({ repository: repo, digest: d }, 'manifest record without its bytes in the store (quarantined or lost); answered as unknown');
    return new CorruptContentError('manifest', d);
  }

  /** An index file (manifest record, tag) that cannot be parsed; the index moved it to `movedTo`. */
  unreadableRecord(path: string, reason: string, movedTo: string | undefined): void {
    this.deps.metrics.storeCorrupt.inc({ kind: 'record' });
    this.deps.logger.error({ file: path, quarantinedTo: movedTo, reason }, 'unreadable manifest record; treated as corrupt (moved to quarantine)');
  }

  /** Wraps a blob about to be served so whole reads are verified as they stream. */
  serve<T extends ServedBlob>(d: Digest, blob: T): T {
    const whole = (range?: ByteRange) => !range || (range.start === 0 && range.end === blob.size - 1);
    const needs = (range?: ByteRange) => {
      if (this.deps.verifyBlobReads === 'first' && this.verified.has(d)) return false;
      if (whole(range)) return true;
      for (const l of this.listeners) l(d);
      return false;
    };
    const done = (r: VerifyResult) => {
      if (r.ok) this.markVerified(d, 'read');
      else void this.corrupt('blob', d, { actual: r.actual, size: blob.size });
    };
    const wrapped: T = {
      ...blob,
      open: async (range?: ByteRange) => {
        const stream = await blob.open(range);
        if (!needs(range)) return stream;
        const verifying = verifyingStream(d, blob.size, done);
        stream.once('error', (err) => verifying.destroy(err));
        return stream.pipe(verifying);
      },
    };
    const openCopy = blob.openCopy;
    if (openCopy) {
      wrapped.openCopy = async (range?: ByteRange) => {
        const copy = await openCopy(range);
        return needs(range) ? verifyingCopy(copy, d, blob.size, done) : copy;
      };
    }
    return wrapped;
  }

  /** Logs, counts and quarantines corrupt content; never throws (the caller answers the client). */
  async corrupt(kind: 'blob' | 'manifest', d: Digest, detail: Record<string, unknown>): Promise<void> {
    this.verified.delete(d);
    const { logger, metrics, blobs } = this.deps;
    try {
      const movedTo = blobs.quarantine ? await blobs.quarantine(d) : undefined;
      if (blobs.quarantine && movedTo === undefined) {
        logger.warn({ digest: d, kind, ...detail }, 'content looked corrupt, but the stored copy is already quarantined or intact now (replaced meanwhile)');
        return;
      }
      metrics.storeCorrupt.inc({ kind });
      if (movedTo) logger.error({ digest: d, kind, quarantinedTo: movedTo, ...detail }, `stored ${kind} does not match its digest; moved to quarantine`);
      // A driver without quarantine (S3 today): every whole read of it is cut, none served whole.
      else logger.error({ digest: d, kind, ...detail }, `stored ${kind} does not match its digest; this store cannot quarantine it`);
    } catch (err) {
      metrics.storeCorrupt.inc({ kind });
      logger.error({ digest: d, kind, err, ...detail }, `stored ${kind} does not match its digest; quarantine failed`);
    }
  }
}
