import { createHash, type Hash } from 'node:crypto';
import { Transform, type TransformCallback } from 'node:stream';
import type { Checksums } from '../metadata/image-facts-store.js';

const ALGORITHMS = ['md5', 'sha1', 'sha256', 'sha512'] as const;

/** Passes bytes through unchanged while feeding the four checksums: one read of the blob serves all. */
export class ChecksumStream extends Transform {
  private readonly hashes: Hash[] = ALGORITHMS.map((a) => createHash(a));
  bytes = 0;

  override _transform(chunk: Buffer, _enc: BufferEncoding, done: TransformCallback): void {
    for (const h of this.hashes) h.update(chunk);
    this.bytes += chunk.length;
    done(null, chunk);
  }

  checksums(): Checksums {
    const [md5, sha1, sha256, sha512] = this.hashes.map((h) => h.digest('hex')) as [string, string, string, string];
    return { md5, sha1, sha256, sha512 };
  }
}

export function checksumsOf(data: Buffer): Checksums {
  const [md5, sha1, sha256, sha512] = ALGORITHMS.map((a) => createHash(a).update(data).digest('hex')) as [string, string, string, string];
  return { md5, sha1, sha256, sha512 };
}
