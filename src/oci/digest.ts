import { createHash, type Hash } from 'node:crypto';
import { Transform, type TransformCallback } from 'node:stream';
import { OciError } from './errors.js';

/** A validated `algorithm:hex` content digest. */
export type Digest = string & { readonly __brand: 'Digest' };
export type DigestAlgorithm = 'sha256' | 'sha512';

const HEX_LENGTH: Record<DigestAlgorithm, number> = { sha256: 64, sha512: 128 };
const DIGEST_PATTERN = /^(sha256|sha512):([a-f0-9]+)$/;

export function parseDigest(value: string): Digest {
  const match = DIGEST_PATTERN.exec(value);
  if (!match || match[2]!.length !== HEX_LENGTH[match[1] as DigestAlgorithm]) {
    throw new OciError('DIGEST_INVALID', `invalid digest: ${truncate(value)}`);
  }
  return value as Digest;
}

export function isDigest(value: string): value is Digest {
  const match = DIGEST_PATTERN.exec(value);
  return !!match && match[2]!.length === HEX_LENGTH[match[1] as DigestAlgorithm];
}

export function digestParts(d: Digest): { algorithm: DigestAlgorithm; hex: string } {
  const i = d.indexOf(':');
  return { algorithm: d.slice(0, i) as DigestAlgorithm, hex: d.slice(i + 1) };
}

export function digestOf(data: Buffer | string, algorithm: DigestAlgorithm = 'sha256'): Digest {
  return `${algorithm}:${createHash(algorithm).update(data).digest('hex')}` as Digest;
}

export function hashToDigest(hash: Hash, algorithm: DigestAlgorithm): Digest {
  return `${algorithm}:${hash.digest('hex')}` as Digest;
}

/** Pass-through stream that hashes and counts what flows through it. */
export class DigestingStream extends Transform {
  private readonly hash: Hash;
  bytes = 0;

  constructor(readonly algorithm: DigestAlgorithm = 'sha256') {
    super();
    this.hash = createHash(algorithm);
  }

  override _transform(chunk: Buffer, _enc: BufferEncoding, done: TransformCallback): void {
    this.hash.update(chunk);
    this.bytes += chunk.length;
    done(null, chunk);
  }

  /** Only valid once the stream has ended. */
  digest(): Digest {
    return hashToDigest(this.hash, this.algorithm);
  }
}

function truncate(s: string): string {
  return s.length > 80 ? `${s.slice(0, 80)}…` : s;
}
