import { createHash } from 'node:crypto';
import { EventEmitter } from 'node:events';
import { open, type FileHandle } from 'node:fs/promises';
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
import { tempPath } from '../storage/temp-files.js';
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
/** Received bytes not yet on disk before the socket is left unread: bounds the fill's memory. */
const MAX_UNWRITTEN = 8 * WRITE_BATCH;

type State = 'starting' | 'filling' | 'committed' | 'failed';

/**
 * One upstream download of one blob into a temp file, hashed on the way and adopted into the store only
 * when the digest matches. Any number of readers stream the file as it grows (positional reads on the
 * fill's own handle, so they survive the rename into the store), or, when caught up, straight from the
 * chunks still in memory (a tee); at most MAX_UNWRITTEN bytes per fill are held, whatever the blob size. The last byte is held back from readers until the digest is verified, so no client ever
 * receives a complete body of corrupt content: it sees the connection cut instead.
 */
export class BlobFill extends EventEmitter {
  state: State = 'starting';
  /** The whole body arrived and matched the digest (commit may still be under way). */
  verified = false;
  size: number | undefined;
  /** Bytes on disk (writes completed, in order). */
  written = 0;
  /** Bytes received and hashed; [written, received) is still in `memory`. */
  received = 0;
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
  /** Received chunks not yet on disk, in order: what caught-up readers are fed from (the tee). */
  private memory: Array<{ at: number; chunk: Buffer }> = [];

  constructor(
    readonly digest: Digest,
    private readonly source: BlobSource,
    private readonly deps: BlobFillDeps,
    signal: AbortSignal,
  ) {
    super();
    this.setMaxListeners(0);
    // Named with this process as owner: a sweeper removes it if the process is killed mid-fill.
    this.tmpPath = tempPath(deps.tmpDir, 'fill');
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

  /** Bytes readers may have now from disk: all of them once verified, else all but the last. */
  available(): number {
    return this.holdBack(this.written);
  }

  /**
   * Received bytes from `pos` still in memory, up to `limit` and never the held-back last byte: a
   * reader caught up with the upstream gets each chunk as it arrives instead of after its write and a
   * pread (on a cold pull that round trip through the disk was where the first client's time went).
   */
  peek(pos: number, limit: number): Buffer | undefined {
    const stop = Math.min(limit, this.holdBack(this.received));
    if (pos >= stop || pos < this.written) return undefined;
    for (const { at, chunk } of this.memory) {
      if (pos < at + chunk.length) return pos < at ? undefined : chunk.subarray(pos - at, Math.min(chunk.length, stop - at));
    }
    return undefined;
  }

  private holdBack(upTo: number): number {
    if (this.verified) return upTo;
    return this.size === undefined ? 0 : Math.min(upTo, this.size - 1);
  }

  /** A stream of the blob (or a range of it) as it arrives. Throws if the fill already failed. */
  async openReader(range?: ByteRange): Promise<Readable> {
    if (this.state === 'failed') throw this.error!;
    // Committed and its handle already closed: the bytes are in the store now.
    if (this.state === 'committed' && !this.handle) return this.deps.blobs.open(this.digest, range);
    if (!this.handle || this.size === undefined) throw new OciError('UNAVAILABLE', 'blob fill not ready');
    this.readers++;
    const end = range ? range.end : this.size - 1;
    return new GrowingFileReader(this.asGrowingFile(), this.handle, range?.start ?? 0, end, () => {
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
      peek: (pos, limit) => this.peek(pos, limit),
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
      // cold 64 MiB fill on loopback. Writes queue behind each other (in order) and the socket is only
      // left unread while more than MAX_UNWRITTEN bytes wait for the disk: waiting for every previous
      // write still cost 10-30% of a cold 16 MiB fill on a busy 2-core box. `written` (what readers may
      // read from the file) only advances when a write has completed.
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
        if (queued - this.written > MAX_UNWRITTEN) await writing;
        const previous = writing;
        writing = previous.then(() => this.handle!.writev(chunks, at)).then(({ bytesWritten }) => {
          if (bytesWritten !== length) throw new Error(`short write to ${this.tmpPath}: ${bytesWritten} of ${length} bytes`);
          this.written += length;
          metrics.upstreamBytes.inc({ upstream }, length);
          // On disk now: readers behind the tee read these from the file.
          let drop = 0;
          while (drop < this.memory.length && this.memory[drop]!.at + this.memory[drop]!.chunk.length <= this.written) drop++;
          if (drop > 0) this.memory = this.memory.slice(drop);
          this.emit('progress');
        });
        // Handled here so a failure while the loop waits for the socket is not an unhandled rejection;
        // the next flush (or the await after the loop) still throws it.
        writing.catch(() => undefined);
      };
      for await (const chunk of body as AsyncIterable<Buffer>) {
        hasher.update(chunk);
        this.memory.push({ at: this.received, chunk });
        this.received += chunk.length;
        this.emit('progress');
        batch.push(chunk);
        batched += chunk.length;
        if (batched >= WRITE_BATCH) await flush();
      }
      await flush();
      if (this.size !== undefined && this.received !== this.size) {
        reason = 'size';
        throw new OciError('SIZE_INVALID', `upstream ${upstream} sent ${this.received} of ${this.size} bytes`);
      }
      const actual = hashToDigest(hasher, algorithm);
      if (actual !== this.digest) {
        reason = 'digest';
        metrics.upstreamDigestMismatches.inc({ upstream });
        throw new OciError('DIGEST_INVALID', `blob from upstream ${upstream} does not match its digest`, { detail: { expected: this.digest, actual } });
      }
      // Verified: readers may have the last byte now (from memory if its write is still running);
      // durability (the write, fsync, rename) is the cache's business.
      this.size = this.received;
      this.verified = true;
      this.emit('progress');
      await writing;
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
      this.memory = [];
      if (reason !== 'digest' && this.state === 'filling') metrics.upstreamFetchFailures.inc({ upstream, reason: timeoutOr(err, reason) });
      this.state = 'failed';
      this.error = oci;
      await unlinkQuietly(this.tmpPath);
      // A blob the upstream does not have is the client's problem, not an upstream failure worth a warning.
      const level = oci.code === 'BLOB_UNKNOWN' || oci.code === 'DENIED' ? 'debug' : 'warn';
      logger[level]({ upstream, digest: this.digest, received: this.received, expected: this.size, err: oci.message }, 'upstream blob fetch failed; nothing cached');
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
