import { createHash, randomBytes, randomUUID } from 'node:crypto';
import { access, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import { buffer } from 'node:stream/consumers';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { storageSchema } from '../../../src/config/storage-schema.js';
import { digestOf } from '../../../src/oci/digest.js';
import type { Clock } from '../../../src/oci/types.js';
import { createS3Client, S3Bucket } from '../../../src/storage/s3/s3-bucket.js';
import { S3BlobStore } from '../../../src/storage/s3/s3-blob-store.js';
import { S3UploadStore } from '../../../src/storage/s3/s3-upload-store.js';
import { S3_ENV, startS3, type RunningS3 } from '../../helpers/s3.js';
import { blobStoreSuite } from '../../suites/blob-store-suite.js';
import { uploadStoreSuite } from '../../suites/upload-store-suite.js';

// One s3rver for the file; every test gets a fresh key prefix in its bucket (small parts, so
// multipart is exercised by blobs of a few MiB).
let s3: RunningS3;
beforeAll(async () => {
  s3 = await startS3();
});
afterAll(async () => {
  await s3?.close();
});

function freshBucket(): S3Bucket {
  const parsed = storageSchema.parse(s3.storage({ prefix: `t-${randomUUID()}/`, partSizeMiB: 5 }));
  return new S3Bucket(createS3Client(parsed.s3!, S3_ENV), parsed.s3!);
}

/** Keys under the prefix that are not committed blobs: temp objects and upload sessions. */
async function leftovers(bucket: S3Bucket): Promise<string[]> {
  const out: string[] = [];
  for (const prefix of ['_tmp/', 'uploads/']) for await (const o of bucket.list(bucket.key(prefix))) out.push(o.key);
  return out;
}

blobStoreSuite('s3', async () => {
  const bucket = freshBucket();
  const local = await mkdtemp(join(tmpdir(), 's3-local-'));
  return {
    blobs: new S3BlobStore(bucket, false),
    leftovers: () => leftovers(bucket),
    async localFile(data) {
      const path = join(local, randomUUID());
      await writeFile(path, data);
      return path;
    },
    exists: (path) => access(path).then(() => true, () => false),
    cleanup: () => rm(local, { recursive: true, force: true }),
  };
});

uploadStoreSuite('s3', async () => {
  const bucket = freshBucket();
  const blobs = new S3BlobStore(bucket, false);
  return {
    blobs,
    uploads: async (clock: Clock) => new S3UploadStore(bucket, blobs, clock),
    leftovers: () => leftovers(bucket),
    cleanup: async () => undefined,
  };
});

describe('S3 driver specifics', () => {
  it('a blob larger than a part goes up in parts and reads back whole and across a part boundary', async () => {
    const bucket = freshBucket();
    const blobs = new S3BlobStore(bucket, false);
    const data = randomBytes(12 * 1024 * 1024 + 123);
    const d = digestOf(data);
    expect(await blobs.put(Readable.from([data.subarray(0, 7e6), data.subarray(7e6)]), d)).toEqual({ digest: d, size: data.length });
    const part = 5 * 1024 * 1024;
    expect(await buffer(await blobs.open(d, { start: part - 10, end: part + 9 }))).toEqual(data.subarray(part - 10, part + 10));
    expect(createHash('sha256').update(await buffer(await blobs.open(d))).digest('hex')).toBe(d.slice(7));
    expect(await leftovers(bucket)).toEqual([]);
  });

  it('redirect mode presigns a URL that serves the blob and ranges without credentials', async () => {
    const bucket = freshBucket();
    const blobs = new S3BlobStore(bucket, true);
    const data = randomBytes(4000);
    const d = digestOf(data);
    await blobs.put(Readable.from([data]), d);
    const url = await blobs.redirectUrl(d);
    expect(url).toMatch(/^http:\/\/127\.0\.0\.1:\d+\/registry\/.*X-Amz-Signature=/);
    expect(Buffer.from(await (await fetch(url!)).arrayBuffer())).toEqual(data);
    const ranged = await fetch(url!, { headers: { range: 'bytes=100-199' } });
    expect(ranged.status).toBe(206);
    expect(Buffer.from(await ranged.arrayBuffer())).toEqual(data.subarray(100, 200));
    expect(await new S3BlobStore(bucket, false).redirectUrl(d)).toBeUndefined();
  });
});
