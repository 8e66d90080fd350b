import { readdir, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { digestOf } from '../../../src/oci/digest.js';
import { isOciError } from '../../../src/oci/errors.js';
import type { Clock } from '../../../src/oci/types.js';
import type { FsBlobStore } from '../../../src/storage/fs-blob-store.js';
import { FsUploadStore } from '../../../src/storage/fs-upload-store.js';
import type { Layout } from '../../../src/storage/layout.js';
import { rejection, tempBlobStore } from '../../helpers/blob-store.js';
import { uploadStoreSuite } from '../../suites/upload-store-suite.js';

uploadStoreSuite('filesystem', async () => {
  const { root, layout, blobs } = await tempBlobStore('uploads-');
  return {
    blobs,
    async uploads(clock: Clock) {
      const store = new FsUploadStore(layout, blobs, clock);
      await store.init();
      return store;
    },
    leftovers: async () => [...(await readdir(layout.uploadsDir)), ...(await readdir(layout.tmpDir))],
    cleanup: () => rm(root, { recursive: true, force: true }),
  };
});

describe('FsUploadStore on disk', () => {
  const clock: Clock = { now: () => 1_700_000_000_000 };
  let root: string;
  let layout: Layout;
  let blobs: FsBlobStore;

  async function newStore(): Promise<FsUploadStore> {
    const store = new FsUploadStore(layout, blobs, clock);
    await store.init();
    return store;
  }

  beforeEach(async () => {
    ({ root, layout, blobs } = await tempBlobStore('uploads-'));
  });
  afterEach(async () => {
    await rm(root, { recursive: true, force: true });
  });

  it('after a restart the digest comes from the bytes on disk, not from memory', async () => {
    const first = await newStore();
    const up = await first.start('app');
    await first.append(up.id, Readable.from([Buffer.from('original bytes')]), 0);
    // Same length, different content: only a fresh hash of the file can tell.
    await writeFile(join(layout.upload(up.id), 'data'), 'tampered bytes');
    const second = await newStore();
    expect(isOciError(await rejection(second.finish(up.id, digestOf('original bytes'))), 'DIGEST_INVALID')).toBe(true);

    const again = await first.start('app');
    await first.append(again.id, Readable.from([Buffer.from('original bytes')]), 0);
    await writeFile(join(layout.upload(again.id), 'data'), 'tampered bytes');
    const third = await newStore();
    expect(await third.finish(again.id, digestOf('tampered bytes'))).toEqual({ digest: digestOf('tampered bytes'), size: 14 });
  });
});
