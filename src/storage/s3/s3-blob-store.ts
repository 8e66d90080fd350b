import { createReadStream } from 'node:fs';
import { stat } from 'node:fs/promises';
import { Readable, pipeline } from 'node:stream';
import { DigestingStream, digestOf, digestParts, type Digest } from '../../oci/digest.js';
import { OciError } from '../../oci/errors.js';
import type { ByteRange } from '../../oci/types.js';
import { unlinkQuietly } from '../atomic-file.js';
import type { BlobStat, BlobStore } from '../blob-store.js';
import type { S3Bucket } from './s3-bucket.js';

/** Bodies of a known size up to this are verified in memory and written with one PUT. */
const SMALL = 1024 * 1024;

/**
 * Content-addressed blobs in an S3 bucket under blobs/<alg>/<xx>/<hex> (the filesystem driver's
 * layout). Bytes are hashed while they stream to a temp key; only a verified object is copied
 * (server-side) to its digest key, so nothing is ever visible under a digest it does not match.
 */
export class S3BlobStore implements BlobStore {
  constructor(
    private readonly bucket: S3Bucket,
    private readonly redirect: boolean,
  ) {}

  blobKey(d: Digest): string {
    const { algorithm, hex } = digestParts(d);
    return this.bucket.key(`blobs/${algorithm}/${hex.slice(0, 2)}/${hex}`);
  }

  async stat(d: Digest): Promise<BlobStat | undefined> {
    const head = await this.bucket.head(this.blobKey(d));
    return head && { size: head.size };
  }

  async open(d: Digest, range?: ByteRange): Promise<Readable> {
    const body = await this.bucket.get(this.blobKey(d), range);
    if (!body) throw new OciError('BLOB_UNKNOWN', undefined, { detail: { digest: d } });
    return body;
  }

  /** A presigned URL for the blob when the store is set to redirect; the client sends its own Range. */
  async redirectUrl(d: Digest): Promise<string | undefined> {
    return this.redirect ? this.bucket.presignGet(this.blobKey(d)) : undefined;
  }

  async put(body: Readable, expected: Digest, options: { size?: number; signal?: AbortSignal } = {}): Promise<{ digest: Digest; size: number }> {
    // Small bodies (manifests, configs, most monolithic pushes of small blobs) are verified in
    // memory, at most SMALL bytes, and written with one PUT straight to their digest key.
    const start = await peek(body, SMALL);
    if (!start.rest) return this.putSmall(Buffer.concat(start.head), expected, options);
    const hasher = new DigestingStream(digestParts(expected).algorithm);
    const temp = this.bucket.tempKey();
    try {
      // pipeline (not pipe): a failing body fails the upload, and a failing upload releases the body.
      await this.bucket.put(temp, pipeline(start.rest, hasher, () => undefined), options.signal);
      if (options.size !== undefined && hasher.bytes !== options.size) {
        throw new OciError('SIZE_INVALID', `expected ${options.size} bytes, received ${hasher.bytes}`);
      }
      return await this.commit(temp, expected, hasher.digest(), hasher.bytes);
    } finally {
      await this.bucket.deleteQuietly(temp);
    }
  }

  private async putSmall(data: Buffer, expected: Digest, options: { size?: number; signal?: AbortSignal }): Promise<{ digest: Digest; size: number }> {
    if (options.size !== undefined && data.length !== options.size) {
      throw new OciError('SIZE_INVALID', `expected ${options.size} bytes, received ${data.length}`);
    }
    const actual = digestOf(data, digestParts(expected).algorithm);
    if (actual !== expected) throw new OciError('DIGEST_INVALID', undefined, { detail: { expected, actual } });
    const key = this.blobKey(expected);
    if ((await this.bucket.head(key))?.size !== data.length) await this.bucket.put(key, data, options.signal);
    return { digest: expected, size: data.length };
  }

  /** Uploads a verified local file (the mirror's fill spool) and removes it, whatever the outcome. */
  async adopt(path: string, expected: Digest, knownDigest?: Digest): Promise<{ digest: Digest; size: number }> {
    try {
      if (knownDigest === undefined) return await this.put(createReadStream(path, { highWaterMark: 1024 * 1024 }), expected);
      if (knownDigest !== expected) throw new OciError('DIGEST_INVALID', undefined, { detail: { expected, actual: knownDigest } });
      const { size } = await stat(path);
      if ((await this.stat(expected))?.size === size) return { digest: expected, size };
      // Verified already: straight to the digest key would do, but a crash mid-upload must not leave a
      // partial object there, and multipart completes atomically, so a single put is as safe as a copy.
      await this.bucket.put(this.blobKey(expected), createReadStream(path, { highWaterMark: 1024 * 1024 }));
      return { digest: expected, size };
    } finally {
      await unlinkQuietly(path);
    }
  }

  /**
   * Makes a verified temp object visible under its digest. Same digest, same bytes: when another
   * writer got there first its object is as good as ours and the copy is skipped.
   */
  async commit(temp: string, expected: Digest, actual: Digest, size: number): Promise<{ digest: Digest; size: number }> {
    if (actual !== expected) throw new OciError('DIGEST_INVALID', undefined, { detail: { expected, actual } });
    const key = this.blobKey(expected);
    if ((await this.bucket.head(key))?.size !== size) await this.bucket.copy(temp, key, size);
    return { digest: expected, size };
  }

  async delete(d: Digest): Promise<void> {
    const key = this.blobKey(d);
    if (!(await this.bucket.head(key))) throw new OciError('BLOB_UNKNOWN', undefined, { detail: { digest: d } });
    await this.bucket.delete(key);
  }
}

/**
 * Reads `body` until it ends or more than `limit` bytes came: `rest` is then the whole body again
 * (what was read, followed by the remainder, from the same iterator so nothing is lost).
 */
async function peek(body: Readable, limit: number): Promise<{ head: Buffer[]; rest?: Readable }> {
  const it = (body as AsyncIterable<Buffer>)[Symbol.asyncIterator]();
  const head: Buffer[] = [];
  let size = 0;
  while (size <= limit) {
    const r = await it.next();
    if (r.done) return { head };
    head.push(r.value);
    size += r.value.length;
  }
  const rest = Readable.from(
    (async function* () {
      try {
        yield* head;
        for (let r = await it.next(); !r.done; r = await it.next()) yield r.value;
      } finally {
        await it.return?.();
      }
    })(),
    { objectMode: false },
  );
  return { head, rest };
}
