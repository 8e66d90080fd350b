import { randomBytes } from 'node:crypto';
import { access, readFile, readdir, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { digestOf } from '../../../src/oci/digest.js';
import type { FsBlobStore } from '../../../src/storage/fs-blob-store.js';
import type { Layout } from '../../../src/storage/layout.js';
import { tempBlobStore } from '../../helpers/blob-store.js';
import { blobStoreSuite } from '../../suites/blob-store-suite.js';

blobStoreSuite('filesystem', async () => {
  const { root, layout, blobs } = await tempBlobStore('blobs-');
  let n = 0;
  return {
    blobs,
    leftovers: () => readdir(layout.tmpDir),
    async localFile(data) {
      const path = join(layout.tmpDir, `local-${n++}`);
      await writeFile(path, data);
      return path;
    },
    exists: (path) => access(path).then(() => true, () => false),
    cleanup: () => rm(root, { recursive: true, force: true }),
  };
});

describe('FsBlobStore on disk', () => {
  let root: string;
  let layout: Layout;
  let store: FsBlobStore;

  beforeEach(async () => {
    ({ root, layout, blobs: store } = await tempBlobStore('blobs-'));
  });
  afterEach(async () => {
    await rm(root, { recursive: true, force: true });
  });

  it('keeps blobs at blobs/<alg>/<xx>/<hex>, sha512 included, and nothing else there after a failed put', async () => {
    const data = randomBytes(5000);
    for (const alg of ['sha256', 'sha512'] as const) {
      const d = digestOf(data, alg);
      await store.put(Readable.from([data]), d);
      expect(layout.blob(d)).toContain(`${root}/blobs/${alg}/`);
      expect(await readFile(layout.blob(d))).toEqual(data);
    }
    await store.put(Readable.from([Buffer.from('x')]), digestOf('y')).catch(() => undefined);
    expect((await readdir(layout.blobsDir)).sort()).toEqual(['sha256', 'sha512']);
  });
});
