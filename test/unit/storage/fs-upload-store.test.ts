import { randomBytes } from 'node:crypto';
import { readFile, readdir, rm, writeFile } from 'node:fs/promises';
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

const clock: Clock = { now: () => 1_700_000_000_000 };

function body(data: Buffer): Readable {
  return Readable.from([data]);
}

describe('FsUploadStore', () => {
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

  it('appends chunks at the right offsets and finishes into the blob store', async () => {
    const store = await newStore();
    const data = randomBytes(10_000);
    const up = await store.start('team/app');
    expect(up).toMatchObject({ repo: 'team/app', size: 0, startedAt: clock.now() });
    expect((await store.append(up.id, body(data.subarray(0, 4000)), 0)).size).toBe(4000);
    expect((await store.append(up.id, body(data.subarray(4000, 7000)), 4000)).size).toBe(7000);
    // Without an offset the chunk goes at the end.
    expect((await store.append(up.id, body(data.subarray(7000, 9000)))).size).toBe(9000);
    expect((await store.get(up.id))?.size).toBe(9000);
    const d = digestOf(data);
    expect(await store.finish(up.id, d, body(data.subarray(9000)))).toEqual({ digest: d, size: data.length });
    expect(await readFile(layout.blob(d))).toEqual(data);
    expect(await store.get(up.id)).toBeUndefined();
    expect(await readdir(layout.uploadsDir)).toEqual([]);
  });

  it.each([
    ['a gap', 5000],
    ['a repeated chunk', 0],
    ['an overlap', 3999],
  ])('%s is RANGE_INVALID and changes nothing', async (_label, at) => {
    const store = await newStore();
    const data = randomBytes(4000);
    const up = await store.start('app');
    await store.append(up.id, body(data), 0);
    const err = await rejection(store.append(up.id, body(Buffer.from('more')), at));
    expect(isOciError(err, 'RANGE_INVALID')).toBe(true);
    expect((await store.get(up.id))?.size).toBe(4000);
    expect(await store.finish(up.id, digestOf(data))).toEqual({ digest: digestOf(data), size: 4000 });
  });

  it('finishes after a restart: a new store instance re-hashes what is on disk', async () => {
    const data = randomBytes(20_000);
    const first = await newStore();
    const up = await first.start('app');
    await first.append(up.id, body(data.subarray(0, 8000)), 0);

    const second = await newStore();
    expect(await second.get(up.id)).toMatchObject({ id: up.id, repo: 'app', size: 8000 });
    await second.append(up.id, body(data.subarray(8000, 15000)), 8000);
    const d = digestOf(data);
    expect(await second.finish(up.id, d, body(data.subarray(15000)))).toEqual({ digest: d, size: data.length });
    expect(await readFile(layout.blob(d))).toEqual(data);
  });

  it('after a restart the digest comes from the bytes on disk, not from memory', async () => {
    const first = await newStore();
    const up = await first.start('app');
    await first.append(up.id, body(Buffer.from('original bytes')), 0);
    // Same length, different content: only a fresh hash of the file can tell.
    await writeFile(join(layout.upload(up.id), 'data'), 'tampered bytes');
    const second = await newStore();
    expect(isOciError(await rejection(second.finish(up.id, digestOf('original bytes'))), 'DIGEST_INVALID')).toBe(true);

    const again = await first.start('app');
    await first.append(again.id, body(Buffer.from('original bytes')), 0);
    await writeFile(join(layout.upload(again.id), 'data'), 'tampered bytes');
    const third = await newStore();
    expect(await third.finish(again.id, digestOf('tampered bytes'))).toEqual({ digest: digestOf('tampered bytes'), size: 14 });
  });

  it('a wrong digest on finish is DIGEST_INVALID and stores nothing', async () => {
    const store = await newStore();
    const up = await store.start('app');
    await store.append(up.id, body(Buffer.from('content')));
    const claimed = digestOf('other');
    expect(isOciError(await rejection(store.finish(up.id, claimed)), 'DIGEST_INVALID')).toBe(true);
    expect(await blobs.stat(claimed)).toBeUndefined();
    expect(await blobs.stat(digestOf('content'))).toBeUndefined();
    expect(await readdir(layout.tmpDir)).toEqual([]);
  });

  it('finishes a sha512 upload', async () => {
    const store = await newStore();
    const data = randomBytes(3000);
    const up = await store.start('app');
    await store.append(up.id, body(data));
    const d = digestOf(data, 'sha512');
    expect(await store.finish(up.id, d)).toEqual({ digest: d, size: 3000 });
    expect(await readFile(layout.blob(d))).toEqual(data);
  });

  it('cancel removes the session; unknown and malformed ids are BLOB_UPLOAD_UNKNOWN', async () => {
    const store = await newStore();
    const up = await store.start('app');
    await store.cancel(up.id);
    expect(await store.get(up.id)).toBeUndefined();
    for (const id of [up.id, '../../etc', 'not-a-uuid', '00000000-0000-0000-0000-000000000000']) {
      expect(isOciError(await rejection(store.append(id, body(Buffer.from('x')))), 'BLOB_UPLOAD_UNKNOWN')).toBe(true);
      expect(isOciError(await rejection(store.finish(id, digestOf('x'))), 'BLOB_UPLOAD_UNKNOWN')).toBe(true);
      expect(isOciError(await rejection(store.cancel(id)), 'BLOB_UPLOAD_UNKNOWN')).toBe(true);
    }
  });

  it('purgeStale removes sessions older than the limit', async () => {
    let now = 1_000;
    const store = new FsUploadStore(layout, blobs, { now: () => now });
    await store.init();
    const up = await store.start('app');
    now += 5_000;
    expect(await store.purgeStale(10_000)).toBe(0);
    now += 10_000;
    expect(await store.purgeStale(10_000)).toBe(1);
    expect(await store.get(up.id)).toBeUndefined();
  });
});
