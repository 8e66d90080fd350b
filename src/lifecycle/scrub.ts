import { createHash } from 'node:crypto';
import { setTimeout as sleep } from 'node:timers/promises';
import type { Logger } from 'pino';
import { digestParts, hashToDigest, type Digest } from '../oci/digest.js';
import { isOciError } from '../oci/errors.js';
import type { BlobStore } from '../storage/blob-store.js';
import type { ContentIntegrity } from './integrity.js';

export interface ScrubberDeps {
  blobs: BlobStore;
  integrity: ContentIntegrity;
  logger: Logger;
  /** Hashing budget; the scrub sleeps to stay under it. */
  bytesPerSecond: number;
  /** A full pass re-checks every blob not verified within this long, then waits this long. */
  intervalMs: number;
}

/**
 * Background re-hashing of stored blobs at a bounded rate (issue 10): catches bit rot in blobs that
 * are only read by range (never verified inline) or that went bad after their first verified read.
 * Blobs a client read by range before they were verified are checked first, ahead of the full pass.
 * With several workers on one store each scrubs; give the others `scrubBytesPerSecond: 0`.
 */
export class Scrubber {
  private readonly queue = new Set<Digest>();
  private readonly abort = new AbortController();
  private wake: (() => void) | undefined;
  private loop: Promise<void> | undefined;

  constructor(private readonly deps: ScrubberDeps) {
    deps.integrity.onUnverifiedRange((d) => this.enqueue(d));
  }

  enqueue(d: Digest): void {
    if (this.queue.size >= 10_000) return; // the full pass gets to the rest
    this.queue.add(d);
    this.wake?.();
  }

  start(): void {
    this.loop = this.run().catch((err: unknown) => {
      if (!this.abort.signal.aborted) this.deps.logger.error({ err }, 'blob scrub stopped');
    });
  }

  async stop(): Promise<void> {
    this.abort.abort();
    this.wake?.();
    await this.loop;
  }

  /** Hashes one blob at the configured rate; quarantines it on a mismatch. Returns whether it was intact. */
  async verify(d: Digest): Promise<boolean | undefined> {
    const { blobs, integrity } = this.deps;
    let stream;
    try {
      stream = await blobs.open(d);
    } catch (err) {
      if (isOciError(err, 'BLOB_UNKNOWN')) return undefined; // deleted or evicted meanwhile
      throw err;
    }
    const { algorithm } = digestParts(d);
    const hash = createHash(algorithm);
    let bytes = 0;
    const started = performance.now();
    const rate = this.deps.bytesPerSecond;
    try {
      for await (const chunk of stream as AsyncIterable<Buffer>) {
        hash.update(chunk);
        bytes += chunk.length;
        const ahead = (bytes / rate) * 1000 - (performance.now() - started);
        if (ahead > 5) await sleep(ahead, undefined, { signal: this.abort.signal });
      }
    } finally {
      stream.destroy();
    }
    const actual = hashToDigest(hash, algorithm);
    if (actual === d) {
      integrity.markVerified(d, 'scrub');
      return true;
    }
    await integrity.corrupt('blob', d, { actual, size: bytes, foundBy: 'scrub' });
    return false;
  }

  private async run(): Promise<void> {
    const { signal } = this.abort;
    let nextPass = Date.now() + Math.min(this.deps.intervalMs, 60_000);
    while (!signal.aborted) {
      const queued = this.queue.values().next();
      if (!queued.done) {
        this.queue.delete(queued.value);
        await this.checked(queued.value, 0);
        continue;
      }
      if (Date.now() >= nextPass) {
        const passStart = Date.now();
        await this.pass(passStart);
        nextPass = passStart + this.deps.intervalMs;
        continue;
      }
      await new Promise<void>((resolve) => {
        const timer = setTimeout(resolve, Math.max(nextPass - Date.now(), 0));
        timer.unref();
        this.wake = () => {
          clearTimeout(timer);
          resolve();
        };
      });
      this.wake = undefined;
    }
  }

  private async pass(passStart: number): Promise<void> {
    const { blobs, logger } = this.deps;
    if (!blobs.list) return;
    let checked = 0;
    let corrupt = 0;
    for await (const blob of blobs.list()) {
      if (this.abort.signal.aborted) return;
      // Ranged reads waiting for a check go first, even mid-pass.
      for (const d of [...this.queue]) {
        this.queue.delete(d);
        await this.checked(d, 0);
      }
      const result = await this.checked(blob.digest, passStart - this.deps.intervalMs);
      if (result !== undefined) checked++;
      if (result === false) corrupt++;
    }
    logger.info({ checked, corrupt, seconds: Math.round((Date.now() - passStart) / 1000) }, 'blob scrub pass done');
  }

  private async checked(d: Digest, skipIfVerifiedSince: number): Promise<boolean | undefined> {
    if (skipIfVerifiedSince > 0 && this.deps.integrity.verifiedSince(d, skipIfVerifiedSince)) return undefined;
    try {
      return await this.verify(d);
    } catch (err) {
      if (!this.abort.signal.aborted) this.deps.logger.warn({ err, digest: d }, 'scrub could not read a blob');
      return undefined;
    }
  }
}
