import { HeadBucketCommand } from '@aws-sdk/client-s3';
import type { S3Config } from '../../config/storage-schema.js';
import type { Clock } from '../../oci/types.js';
import { createS3Client, S3Bucket } from './s3-bucket.js';
import { S3BlobStore } from './s3-blob-store.js';
import { S3UploadStore } from './s3-upload-store.js';

/** The S3 driver's stores over one client; fails at start when the bucket cannot be reached. */
export async function createS3Storage(
  config: S3Config,
  clock: Clock,
  env: Readonly<Record<string, string | undefined>>,
): Promise<{ blobs: S3BlobStore; uploads: S3UploadStore }> {
  const client = createS3Client(config, env);
  try {
    await client.send(new HeadBucketCommand({ Bucket: config.bucket }));
  } catch (err) {
    const status = (err as { $metadata?: { httpStatusCode?: number } }).$metadata?.httpStatusCode;
    throw new Error(`storage.s3: bucket ${config.bucket} is not reachable${status ? ` (HTTP ${status})` : ''}: ${(err as Error).name}`, { cause: err });
  }
  const bucket = new S3Bucket(client, config);
  const blobs = new S3BlobStore(bucket, config.redirect);
  return { blobs, uploads: new S3UploadStore(bucket, blobs, clock) };
}
