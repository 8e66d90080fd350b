import { createHash, randomBytes } from 'node:crypto';
import { Readable } from 'node:stream';
import { buffer } from 'node:stream/consumers';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { digestOf, type Digest } from '../../src/oci/digest.js';
import { isOciError } from '../../src/oci/errors.js';
import type { BlobStore } from '../../src/storage/blob-store.js';
import { rejection } from '../helpers/blob-store.js';

/** One fresh, empty store for one test. */
export interface BlobStoreFixture {
  blobs: BlobStore;
  /** Unverified bytes still lying around (temp files or temp objects): must be none after any put. */
  leftovers(): Promise<string[]>;
  /** A local file holding `data`, for adopt(). */
  localFile(data: Buffer): Promise<string>;
  /** Whether a local file still exists (adopt consumes it either way). */
  exists(path: string): Promise<boolean>;
  cleanup(): Promise<void>;
}

/** A body that arrives in several chunks with pauses, so concurrent writers interleave. */
export function slowBody(data: Buffer, pieces = 8): Readable {
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

/** The BlobStore contract, run on every driver (filesystem, S3). */
export function blobStoreSuite(label: string, make: () => Promise<BlobStoreFixture>): void {
  describe(`BlobStore contract: ${label}`, () => {
    let f: BlobStoreFixture;
    let store: BlobStore;
    beforeEach(async () => {
      f = await make();
      store = f.blobs;
    });
    afterEach(async () => {
      await f.cleanup();
    });

    it('stores by digest, stats, opens whole and ranged, deletes', async () => {
      const data = randomBytes(3000);
      const d = digestOf(data);
      expect(await store.stat(d)).toBeUndefined();
      expect(await store.put(Readable.from([data]), d)).toEqual({ digest: d, size: data.length });
      expect(await store.stat(d)).toEqual({ size: data.length });
      expect(await buffer(await store.open(d))).toEqual(data);
      expect(await buffer(await store.open(d, { start: 10, end: 19 }))).toEqual(data.subarray(10, 20));
      expect(await buffer(await store.open(d, { start: 2999, end: 2999 }))).toEqual(data.subarray(2999));
      await store.delete(d);
      expect(await store.stat(d)).toBeUndefined();
      expect(isOciError(await rejection(store.open(d)), 'BLOB_UNKNOWN')).toBe(true);
      expect(isOciError(await rejection(store.delete(d)), 'BLOB_UNKNOWN')).toBe(true);
      expect(await f.leftovers()).toEqual([]);
    });

    it('stores an empty blob', async () => {
      const d = digestOf(Buffer.alloc(0));
      expect(await store.put(Readable.from([]), d)).toEqual({ digest: d, size: 0 });
      expect(await store.stat(d)).toEqual({ size: 0 });
      expect((await buffer(await store.open(d))).length).toBe(0);
    });

    it('a digest mismatch is DIGEST_INVALID and leaves no blob and no temp', async () => {
      const data = Buffer.from('the real content');
      const claimed = digestOf('something else');
      const err = await rejection(store.put(slowBody(data), claimed));
      expect(isOciError(err, 'DIGEST_INVALID')).toBe(true);
      expect(await store.stat(claimed)).toBeUndefined();
      expect(await store.stat(digestOf(data))).toBeUndefined();
      expect(await f.leftovers()).toEqual([]);
    });

    it('a size mismatch is SIZE_INVALID and leaves nothing', async () => {
      const data = Buffer.from('twelve bytes');
      const err = await rejection(store.put(Readable.from([data]), digestOf(data), { size: 13 }));
      expect(isOciError(err, 'SIZE_INVALID')).toBe(true);
      expect(await store.stat(digestOf(data))).toBeUndefined();
      expect(await f.leftovers()).toEqual([]);
    });

    it('a body that fails mid-stream leaves no blob and no temp', async () => {
      const d = digestOf('never finished');
      const body = Readable.from(
        (async function* () {
          yield Buffer.from('never ');
          throw new Error('client went away');
        })(),
      );
      await rejection(store.put(body, d));
      expect(await store.stat(d)).toBeUndefined();
      expect(await f.leftovers()).toEqual([]);
    });

    it('concurrent puts of the same blob all succeed and leave one intact blob', async () => {
      const data = randomBytes(256 * 1024);
      const d = digestOf(data);
      const results = await Promise.all([store.put(slowBody(data), d), store.put(slowBody(data), d), store.put(slowBody(data, 3), d)]);
      for (const r of results) expect(r).toEqual({ digest: d, size: data.length });
      const stored = await buffer(await store.open(d));
      expect(createHash('sha256').update(stored).digest('hex')).toBe(d.slice('sha256:'.length));
      expect(await f.leftovers()).toEqual([]);
    });

    it('verifies and stores sha512 blobs', async () => {
      const data = randomBytes(5000);
      const d = digestOf(data, 'sha512');
      expect(await store.put(slowBody(data), d)).toEqual({ digest: d, size: data.length });
      expect(await buffer(await store.open(d))).toEqual(data);
      const wrong = `sha512:${'0'.repeat(128)}` as Digest;
      expect(isOciError(await rejection(store.put(Readable.from([data]), wrong)), 'DIGEST_INVALID')).toBe(true);
      expect(await store.stat(wrong)).toBeUndefined();
    });

    it('adopts a local file after verifying it, consuming the file either way', async () => {
      const data = randomBytes(70_000);
      const d = digestOf(data);
      const good = await f.localFile(data);
      expect(await store.adopt(good, d)).toEqual({ digest: d, size: data.length });
      expect(await f.exists(good)).toBe(false);
      expect(await buffer(await store.open(d))).toEqual(data);

      const known = await f.localFile(Buffer.from('known'));
      expect(await store.adopt(known, digestOf('known'), digestOf('known'))).toEqual({ digest: digestOf('known'), size: 5 });

      const bad = await f.localFile(Buffer.from('not what was claimed'));
      const claimed = digestOf('claimed');
      expect(isOciError(await rejection(store.adopt(bad, claimed)), 'DIGEST_INVALID')).toBe(true);
      expect(await f.exists(bad)).toBe(false);
      expect(await store.stat(claimed)).toBeUndefined();
      expect(await f.leftovers()).toEqual([]);
    });
  });
}
