import { createHash, randomUUID } from 'node:crypto';
import { EventEmitter } from 'node:events';
import { open, type FileHandle } from 'node:fs/promises';
import { join } from 'node:path';
import type { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import type { Logger } from 'pino';
import type { Metrics } from '../metrics/metrics.js';
import { digestParts, hashToDigest, type Digest } from '../oci/digest.js';
import { OciError } from '../oci/errors.js';
import type { ByteRange } from '../oci/types.js';
import type { MetadataIndex } from '../metadata/metadata-index.js';
import type { BlobStore } from '../storage/blob-store.js';
import { unlinkQuietly } from '../storage/atomic-file.js';
import { growingFileCopy, type BlobCopy, type GrowingFile } from '../storage/file-copy.js';
import { GrowingFileReader } from './growing-file-reader.js';

export interface BlobSource {
  upstream: string;
  fetch(signal: AbortSignal, d: Digest): Promise<{ size?: number; body: Readable }>;
}

export interface BlobFillDeps {
  blobs: BlobStore;
  index: MetadataIndex;
  tmpDir: string;
  metrics: Metrics;
  logger: Logger;
}

const WRITE_BATCH = 1024 * 1024;

type State = 'starting' | 'filling' | 'committed' | 'failed';

/**
 * One upstream download of one blob into a temp file, hashed on the way and adopted into the store only
 * when the digest matches. Any number of readers stream the file as it grows (positional reads on the
 * fill's own handle, so they survive the rename into the store); nothing is held in memory beyond a
 * chunk. The last byte is held back from readers until the digest is verified, so no client ever
 * receives a complete body of corrupt content: it sees the connection cut instead.
 */
export class BlobFill extends EventEmitter {
  state: State = 'starting';
  /** The whole body arrived and matched the digest (commit may still be under way). */
  verified = false;
  size: number | undefined;
  written = 0;
  error: OciError | undefined;
  /** Resolves once the size is known (headers arrived), rejects if the fetch could not start. */
  readonly ready: Promise<void>;
  /** Resolves on commit, rejects on failure. */
  readonly done: Promise<void>;
  private handle: FileHandle | undefined;
  /** Repositories the blob is linked into once committed (every repository that asked for it). */
  private readonly links = new Set<string>();
  private readers = 0;
  private readonly tmpPath: string;

  constructor(
    readonly digest: Digest,
    private readonly source: BlobSource,
    private readonly deps: BlobFillDeps,
    signal: AbortSignal,
  ) {
    super();
    this.setMaxListeners(0);
    this.tmpPath = join(deps.tmpDir, `${randomUUID()}.fill`);
    let markReady!: () => void;
    let failReady!: (err: unknown) => void;
    this.ready = new Promise((resolve, reject) => {
      markReady = resolve;
      failReady = reject;
    });
    this.done = this.run(signal, markReady).then(
      () => undefined,
      (err: unknown) => {
        failReady(err);
        throw err;
      },
    );
    // Callers that only await `ready` must not see an unhandled rejection from `done`.
    this.done.catch(() => undefined);
    this.ready.catch(() => undefined);
  }

  /** Links the blob into `repo` when (or, if already, now that) it is committed. */
  async addLink(repo: string): Promise<void> {
    if (this.state === 'committed') await this.deps.index.linkBlob(repo, this.digest, 'cached');
    else this.links.add(repo);
  }

  /** Bytes readers may have now: all of them once verified, else all but the last. */
  available(): number {
    if (this.verified) return this.written;
    return this.size === undefined ? 0 : Math.min(this.written, this.size - 1);
  }

  /** A stream of the blob (or a range of it) as it arrives. Throws if the fill already failed. */
  async openReader(range?: ByteRange): Promise<Readable> {
    if (this.state === 'failed') throw this.error!;
    // Committed and its handle already closed: the bytes are in the store now.
    if (this.state === 'committed' && !this.handle) return this.deps.blobs.open(this.digest, range);
    if (!this.handle || this.size === undefined) throw new OciError('UNAVAILABLE', 'blob fill not ready');
    this.readers++;
    const end = range ? range.end : this.size - 1;
    return new GrowingFileReader(this, this.handle, range?.start ?? 0, end, () => {
      this.readers--;
      this.closeIfIdle();
    });
  }

  /** Like openReader, as a copy into the response through recycled buffers (the route's fast path). */
  async openCopy(range?: ByteRange): Promise<BlobCopy> {
    if (this.state === 'failed') throw this.error!;
    if (this.state === 'committed' && !this.handle) {
      const { blobs } = this.deps;
      if (blobs.openCopy) return blobs.openCopy(this.digest, range);
      const stream = await blobs.open(this.digest, range);
      return (dest) => pipeline(stream, dest);
    }
    if (!this.handle || this.size === undefined) throw new OciError('UNAVAILABLE', 'blob fill not ready');
    this.readers++;
    const end = range ? range.end : this.size - 1;
    return growingFileCopy(this.asGrowingFile(), this.handle, range?.start ?? 0, end, () => {
      this.readers--;
      this.closeIfIdle();
    });
  }

  /** The fill as the store's copy loop sees a file still being written. */
  private asGrowingFile(): GrowingFile {
    return {
      readable: () => this.available(),
      complete: () => this.verified,
      // A failed fill can never complete the body: cut now rather than send what is left of it.
      assertLive: () => {
        if (this.state === 'failed') throw this.error ?? new Error('blob fill failed');
      },
      onProgress: (listener) => {
        this.on('progress', listener);
        return () => this.off('progress', listener);
      },
    };
  }

  private async run(signal: AbortSignal, markReady: () => void): Promise<void> {
    const { metrics, logger } = this.deps;
    const upstream = this.source.upstream;
    const timer = metrics.upstreamDuration.startTimer({ upstream, kind: 'blob' });
    let reason = 'cut';
    // The write in flight, if any: failure cleanup (unlink, close) waits for it.
    let writing: Promise<void> = Promise.resolve();
    try {
      this.handle = await open(this.tmpPath, 'w+');
      const { size, body } = await this.source.fetch(signal, this.digest);
      this.size = size;
      this.state = 'filling';
      markReady();
      const algorithm = digestParts(this.digest).algorithm;
      const hasher = createHash(algorithm);
      // Socket chunks are small (64 KiB); writing them in ~1 MiB batches keeps the thread pool free
      // for readers' preads and cuts wake-ups. One batch is written while the next one is received and
      // hashed: awaiting each write before reading on stalled the socket for ~1 ms per MiB, 30-50% of a
      // cold 64 MiB fill on loopback. At most two batches are in memory; `written` (what readers may
      // read) only advances when a write has completed, in order.
      let batch: Buffer[] = [];
      let batched = 0;
      let queued = 0;
      const flush = async () => {
        if (batched === 0) return;
        const chunks = batch;
        const length = batched;
        const at = queued;
        batch = [];
        batched = 0;
        queued += length;
        await writing;
        writing = this.handle!.writev(chunks, at).then(({ bytesWritten }) => {
          if (bytesWritten !== length) throw new Error(`short write to ${this.tmpPath}: ${bytesWritten} of ${length} bytes`);
          this.written += length;
          metrics.upstreamBytes.inc({ upstream }, length);
          this.emit('progress');
        });
        // Handled here so a failure while the loop waits for the socket is not an unhandled rejection;
        // the next flush (or the await after the loop) still throws it.
        writing.catch(() => undefined);
      };
      for await (const chunk of body as AsyncIterable<Buffer>) {
        hasher.update(chunk);
        batch.push(chunk);
        batched += chunk.length;
        if (batched >= WRITE_BATCH) await flush();
      }
      await flush();
      await writing;
      if (this.size !== undefined && this.written !== this.size) {
        reason = 'size';
        throw new OciError('SIZE_INVALID', `upstream ${upstream} sent ${this.written} of ${this.size} bytes`);
      }
      this.size = this.written;
      const actual = hashToDigest(hasher, algorithm);
      if (actual !== this.digest) {
        reason = 'digest';
        metrics.upstreamDigestMismatches.inc({ upstream });
        throw new OciError('DIGEST_INVALID', `blob from upstream ${upstream} does not match its digest`, { detail: { expected: this.digest, actual } });
      }
      // Verified: readers may have the last byte now; durability (fsync, rename) is the cache's business.
      this.verified = true;
      this.emit('progress');
      await this.handle.sync();
      await this.deps.blobs.adopt(this.tmpPath, this.digest, actual);
      // Links before 'committed': a reader finding the fill gone must find the blob linked.
      for (const repo of this.links) await this.deps.index.linkBlob(repo, this.digest, 'cached');
      this.state = 'committed';
      logger.debug({ upstream, digest: this.digest, size: this.written }, 'blob cached');
    } catch (err) {
      // No write may still be running when the temp file is unlinked and the handle closed.
      await writing.catch(() => undefined);
      const oci = toFillError(upstream, err);
      this.verified = false;
      if (reason !== 'digest' && this.state === 'filling') metrics.upstreamFetchFailures.inc({ upstream, reason: timeoutOr(err, reason) });
      this.state = 'failed';
      this.error = oci;
      await unlinkQuietly(this.tmpPath);
      // A blob the upstream does not have is the client's problem, not an upstream failure worth a warning.
      const level = oci.code === 'BLOB_UNKNOWN' || oci.code === 'DENIED' ? 'debug' : 'warn';
      logger[level]({ upstream, digest: this.digest, received: this.written, expected: this.size, err: oci.message }, 'upstream blob fetch failed; nothing cached');
      throw oci;
    } finally {
      timer();
      this.emit('progress');
      this.closeIfIdle();
    }
  }

  private closeIfIdle(): void {
    if (this.readers > 0 || this.state === 'starting' || this.state === 'filling' || !this.handle) return;
    const handle = this.handle;
    this.handle = undefined;
    void handle.close().catch(() => undefined);
  }
}

function toFillError(upstream: string, err: unknown): OciError {
  if (err instanceof OciError) return err;
  return new OciError('UNAVAILABLE', `blob transfer from upstream ${upstream} failed`, { cause: err });
}

function timeoutOr(err: unknown, reason: string): string {
  return (err as { code?: string } | undefined)?.code === 'ETIMEDOUT' ? 'timeout' : reason;
}
