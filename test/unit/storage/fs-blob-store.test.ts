import { createHash, randomBytes } from 'node:crypto';
import { readFile, readdir, rm } from 'node:fs/promises';
import { Readable } from 'node:stream';
import { buffer } from 'node:stream/consumers';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { digestOf, type Digest } from '../../../src/oci/digest.js';
import { isOciError } from '../../../src/oci/errors.js';
import type { FsBlobStore } from '../../../src/storage/fs-blob-store.js';
import type { Layout } from '../../../src/storage/layout.js';
import { rejection, tempBlobStore } from '../../helpers/blob-store.js';

/** A body that arrives in several chunks with pauses, so concurrent writers interleave. */
function slowBody(data: Buffer, pieces = 8): Readable {
  const size = Math.ceil(data.length / pieces);
  return Readable.from(
    (async function* () {
      for (let i = 0; i < data.length; i += size) {
        await new Promise((r) => setTimeout(r, 2));
        yield data.subarray(i, i + size);
      }
    })(),
  );
}

describe('FsBlobStore', () => {
  let root: string;
  let layout: Layout;
  let store: FsBlobStore;

  beforeEach(async () => {
    ({ root, layout, blobs: store } = await tempBlobStore('blobs-'));
  });
  afterEach(async () => {
    await rm(root, { recursive: true, force: true });
  });

  it('stores by digest, stats, opens whole and ranged, deletes', async () => {
    const data = randomBytes(3000);
    const d = digestOf(data);
    expect(await store.stat(d)).toBeUndefined();
    expect(await store.put(Readable.from([data]), d)).toEqual({ digest: d, size: data.length });
    expect(await store.stat(d)).toEqual({ size: data.length });
    expect(await readFile(layout.blob(d))).toEqual(data);
    expect(await buffer(await store.open(d))).toEqual(data);
    expect(await buffer(await store.open(d, { start: 10, end: 19 }))).toEqual(data.subarray(10, 20));
    await store.delete(d);
    expect(await store.stat(d)).toBeUndefined();
    expect(isOciError(await rejection(store.open(d)), 'BLOB_UNKNOWN')).toBe(true);
    expect(isOciError(await rejection(store.delete(d)), 'BLOB_UNKNOWN')).toBe(true);
  });

  it('a digest mismatch is DIGEST_INVALID and leaves no blob and no temp file', async () => {
    const data = Buffer.from('the real content');
    const claimed = digestOf('something else');
    const err = await rejection(store.put(slowBody(data), claimed));
    expect(isOciError(err, 'DIGEST_INVALID')).toBe(true);
    expect(await store.stat(claimed)).toBeUndefined();
    expect(await store.stat(digestOf(data))).toBeUndefined();
    expect(await readdir(layout.tmpDir)).toEqual([]);
    expect(await readdir(layout.blobsDir)).toEqual([]);
  });

  it('a size mismatch is SIZE_INVALID and leaves nothing', async () => {
    const data = Buffer.from('twelve bytes');
    const err = await rejection(store.put(Readable.from([data]), digestOf(data), { size: 13 }));
    expect(isOciError(err, 'SIZE_INVALID')).toBe(true);
    expect(await store.stat(digestOf(data))).toBeUndefined();
    expect(await readdir(layout.tmpDir)).toEqual([]);
  });

  it('a body that fails mid-stream leaves no blob and no temp file', async () => {
    const d = digestOf('never finished');
    const body = Readable.from(
      (async function* () {
        yield Buffer.from('never ');
        throw new Error('client went away');
      })(),
    );
    await rejection(store.put(body, d));
    expect(await store.stat(d)).toBeUndefined();
    expect(await readdir(layout.tmpDir)).toEqual([]);
  });

  it('concurrent puts of the same blob both succeed and leave one intact blob', async () => {
    const data = randomBytes(256 * 1024);
    const d = digestOf(data);
    const results = await Promise.all([store.put(slowBody(data), d), store.put(slowBody(data), d), store.put(slowBody(data, 3), d)]);
    for (const r of results) expect(r).toEqual({ digest: d, size: data.length });
    const stored = await readFile(layout.blob(d));
    expect(createHash('sha256').update(stored).digest('hex')).toBe(d.slice('sha256:'.length));
    expect(await readdir(layout.tmpDir)).toEqual([]);
  });

  it('verifies and stores sha512 blobs', async () => {
    const data = randomBytes(5000);
    const d = digestOf(data, 'sha512');
    expect(d.startsWith('sha512:')).toBe(true);
    expect(await store.put(slowBody(data), d)).toEqual({ digest: d, size: data.length });
    expect(layout.blob(d)).toContain(`${root}/blobs/sha512/`);
    expect(await readFile(layout.blob(d))).toEqual(data);
    const wrong = `sha512:${'0'.repeat(128)}` as Digest;
    expect(isOciError(await rejection(store.put(Readable.from([data]), wrong)), 'DIGEST_INVALID')).toBe(true);
    expect(await store.stat(wrong)).toBeUndefined();
  });
});
