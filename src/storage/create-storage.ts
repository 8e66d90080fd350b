import { mkdir } from 'node:fs/promises';
import type { Config } from '../config/schema.js';
import type { Clock } from '../oci/types.js';
import type { BlobStore, UploadStore } from './blob-store.js';
import { FsBlobStore } from './fs-blob-store.js';
import { FsUploadStore } from './fs-upload-store.js';
import type { Layout } from './layout.js';

/** Upload sessions plus the housekeeping the app runs on a timer. */
export interface ManagedUploadStore extends UploadStore {
  readonly inProgress: number;
  purgeStale(maxAgeMs: number): Promise<number>;
}

export interface Storage {
  driver: 'filesystem' | 's3';
  blobs: BlobStore;
  uploads: ManagedUploadStore;
}

/**
 * The blob and upload stores the config asks for. The S3 driver (and with it the AWS SDK, ~30 MB
 * of heap) is imported only when selected, so the default filesystem registry stays small.
 * The data folder is used either way: index, users, keys, and the mirror's local fill spool.
 */
export async function createStorage(
  config: Config['storage'],
  layout: Layout,
  clock: Clock,
  env: Readonly<Record<string, string | undefined>>,
): Promise<Storage> {
  if (config.driver === 's3') {
    if (!config.s3) throw new Error('storage.driver s3 needs a storage.s3 section');
    await mkdir(layout.tmpDir, { recursive: true });
    const { createS3Storage } = await import('./s3/create-s3-storage.js');
    return { driver: 's3', ...(await createS3Storage(config.s3, clock, env)) };
  }
  const blobs = new FsBlobStore(layout);
  await blobs.init();
  const uploads = new FsUploadStore(layout, blobs, clock);
  await uploads.init();
  return { driver: 'filesystem', blobs, uploads };
}
