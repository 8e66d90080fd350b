import { createHash, type Hash } from 'node:crypto';
import { Transform, Writable, type TransformCallback } from 'node:stream';
import { digestParts, hashToDigest, type Digest } from '../oci/digest.js';
import type { BlobCopy } from '../storage/file-copy.js';

/** What a verifying read found once the whole body went by: the digest it really has. */
export type VerifyResult = { ok: true } | { ok: false; actual: Digest };

/**
 * Driver-neutral verification of a whole-blob read, for any store's BlobCopy or Readable: the bytes are
 * hashed on their way to the client and the last chunk is only sent once the digest is known to match.
 * On a mismatch the client's connection is cut instead (no last chunk, no chunked terminator), so no
 * client ever holds a complete body that does not hash to the digest it asked for.
 */
export function verifyingCopy(copy: BlobCopy, d: Digest, size: number, done: (r: VerifyResult) => void): BlobCopy {
  return async (dest) => {
    const sink = new VerifyingSink(dest, d, size, done);
    await copy(sink);
  };
}

/** The same for a stream source: holds back one chunk, released at the end only if the digest matches. */
export function verifyingStream(d: Digest, size: number, done: (r: VerifyResult) => void): Transform {
  const algorithm = digestParts(d).algorithm;
  const hash = createHash(algorithm);
  let held: Buffer | undefined;
  let seen = 0;
  return new Transform({
    transform(chunk: Buffer, _enc, cb: TransformCallback) {
      hash.update(chunk);
      seen += chunk.length;
      const previous = held;
      held = chunk;
      cb(null, previous);
    },
    flush(cb: TransformCallback) {
      const actual = hashToDigest(hash, algorithm);
      if (actual !== d || seen !== size) {
        done({ ok: false, actual });
        cb(new Error(`stored blob ${d} does not match its digest`));
        return;
      }
      done({ ok: true });
      cb(null, held);
    },
  });
}

/**
 * A Writable in front of the response: hashes each chunk, forwards it with the caller's callback (so a
 * store's recycled buffers come back only once the socket has them), and checks the digest before the
 * chunk that completes the body. Only a write that would complete a bad body is refused.
 */
class VerifyingSink extends Writable {
  private readonly hash: Hash;
  private seen = 0;

  constructor(
    private readonly dest: Writable,
    private readonly digest: Digest,
    private readonly size: number,
    private readonly done: (r: VerifyResult) => void,
  ) {
    // highWaterMark 0: nothing is buffered here beyond the chunk being forwarded.
    super({ highWaterMark: 0 });
    this.hash = createHash(digestParts(digest).algorithm);
    // Errors reach the copier through write callbacks; no one listens for 'error' events on this sink.
    this.on('error', () => undefined);
    if (dest.destroyed) this.destroy();
    else dest.once('close', () => this.destroy());
  }

  override _write(chunk: Buffer, _enc: BufferEncoding, cb: (err?: Error | null) => void): void {
    this.hash.update(chunk);
    this.seen += chunk.length;
    if (this.seen >= this.size && !this.check()) {
      cb(new Error(`stored blob ${this.digest} does not match its digest`));
      return;
    }
    this.dest.write(chunk, (err) => cb(err));
  }

  override _final(cb: (err?: Error | null) => void): void {
    // An empty (or short) body never reached the size: its digest is checked here.
    if (!this.checked && !this.check()) {
      cb(new Error(`stored blob ${this.digest} does not match its digest`));
      return;
    }
    this.dest.end(() => cb());
  }

  private checked = false;

  /** Compares the digest once the body is complete; on a mismatch cuts the connection. */
  private check(): boolean {
    this.checked = true;
    const actual = hashToDigest(this.hash, digestParts(this.digest).algorithm);
    if (actual === this.digest && this.seen === this.size) {
      this.done({ ok: true });
      return true;
    }
    this.done({ ok: false, actual });
    // Cut the connection now: the client sees a short body, never a complete wrong one.
    this.dest.destroy();
    return false;
  }

  override _destroy(err: Error | null, cb: (err?: Error | null) => void): void {
    cb(err);
  }
}
