import { randomBytes } from 'node:crypto';
import { Readable } from 'node:stream';
import { buffer } from 'node:stream/consumers';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { digestOf } from '../../src/oci/digest.js';
import { isOciError } from '../../src/oci/errors.js';
import type { Clock } from '../../src/oci/types.js';
import type { BlobStore } from '../../src/storage/blob-store.js';
import type { ManagedUploadStore } from '../../src/storage/create-storage.js';
import { rejection } from '../helpers/blob-store.js';

/** Fresh, empty storage for one test. */
export interface UploadStoreFixture {
  blobs: BlobStore;
  /** A new upload store over the same storage: a restart, or another replica. */
  uploads(clock: Clock): Promise<ManagedUploadStore>;
  /** Anything left of sessions and temp data (must be none once sessions end). */
  leftovers(): Promise<string[]>;
  cleanup(): Promise<void>;
}

const clock: Clock = { now: () => 1_700_000_000_000 };

function body(data: Buffer): Readable {
  return Readable.from([data]);
}

/** The UploadStore contract, run on every driver (filesystem, S3). */
export function uploadStoreSuite(label: string, make: () => Promise<UploadStoreFixture>): void {
  describe(`UploadStore contract: ${label}`, () => {
    let f: UploadStoreFixture;
    beforeEach(async () => {
      f = await make();
    });
    afterEach(async () => {
      await f.cleanup();
    });

    it('appends chunks at the right offsets and finishes into the blob store', async () => {
      const store = await f.uploads(clock);
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
      expect(await buffer(await f.blobs.open(d))).toEqual(data);
      expect(await store.get(up.id)).toBeUndefined();
      expect(await f.leftovers()).toEqual([]);
    });

    it('keeps the owner given at start with the session, across a restart (issue 10, item 8)', async () => {
      const store = await f.uploads(clock);
      const owned = await store.start('app', 'oidc:repo:acme/app');
      const anonymous = await store.start('app');
      const again = await f.uploads(clock);
      expect((await again.get(owned.id))?.owner).toBe('oidc:repo:acme/app');
      expect((await again.get(anonymous.id))?.owner).toBeUndefined();
      await again.cancel(owned.id);
      await again.cancel(anonymous.id);
    });

    it('finishes a one-chunk session, a session finished by the PUT body alone, and an empty one', async () => {
      const store = await f.uploads(clock);
      const data = randomBytes(5000);
      const one = await store.start('app');
      await store.append(one.id, body(data));
      expect(await store.finish(one.id, digestOf(data))).toEqual({ digest: digestOf(data), size: 5000 });
      const other = Buffer.from('only in the PUT');
      const put = await store.start('app');
      expect(await store.finish(put.id, digestOf(other), body(other))).toEqual({ digest: digestOf(other), size: other.length });
      expect(await buffer(await f.blobs.open(digestOf(other)))).toEqual(other);
      const empty = await store.start('app');
      expect(await store.finish(empty.id, digestOf(Buffer.alloc(0)))).toEqual({ digest: digestOf(Buffer.alloc(0)), size: 0 });
      expect(await f.leftovers()).toEqual([]);
    });

    it.each([
      ['a gap', 5000],
      ['a repeated chunk', 0],
      ['an overlap', 3999],
    ])('%s is RANGE_INVALID and changes nothing', async (_label, at) => {
      const store = await f.uploads(clock);
      const data = randomBytes(4000);
      const up = await store.start('app');
      await store.append(up.id, body(data), 0);
      const err = await rejection(store.append(up.id, body(Buffer.from('more')), at));
      expect(isOciError(err, 'RANGE_INVALID')).toBe(true);
      expect((await store.get(up.id))?.size).toBe(4000);
      expect(await store.finish(up.id, digestOf(data))).toEqual({ digest: digestOf(data), size: 4000 });
    });

    it('another instance over the same storage (a restart, another replica) continues and finishes the session', async () => {
      const data = randomBytes(20_000);
      const first = await f.uploads(clock);
      const up = await first.start('app');
      await first.append(up.id, body(data.subarray(0, 8000)), 0);

      const second = await f.uploads(clock);
      expect(await second.get(up.id)).toMatchObject({ id: up.id, repo: 'app', size: 8000 });
      await second.append(up.id, body(data.subarray(8000, 15000)), 8000);
      expect((await first.get(up.id))?.size).toBe(15000);
      const d = digestOf(data);
      const third = await f.uploads(clock);
      expect(await third.finish(up.id, d, body(data.subarray(15000)))).toEqual({ digest: d, size: data.length });
      expect(await buffer(await f.blobs.open(d))).toEqual(data);
      expect(await first.get(up.id)).toBeUndefined();
    });

    it('a wrong digest on finish is DIGEST_INVALID, stores nothing and ends the session', async () => {
      const store = await f.uploads(clock);
      for (const chunks of [['content'], ['con', 'tent']]) {
        const up = await store.start('app');
        for (const c of chunks) await store.append(up.id, body(Buffer.from(c)));
        const claimed = digestOf('other');
        expect(isOciError(await rejection(store.finish(up.id, claimed)), 'DIGEST_INVALID')).toBe(true);
        expect(await f.blobs.stat(claimed)).toBeUndefined();
        expect(await f.blobs.stat(digestOf('content'))).toBeUndefined();
        expect(await store.get(up.id)).toBeUndefined();
      }
      expect(await f.leftovers()).toEqual([]);
    });

    it('finishes a sha512 upload', async () => {
      const store = await f.uploads(clock);
      const data = randomBytes(3000);
      const up = await store.start('app');
      await store.append(up.id, body(data));
      const d = digestOf(data, 'sha512');
      expect(await store.finish(up.id, d)).toEqual({ digest: d, size: 3000 });
      expect(await buffer(await f.blobs.open(d))).toEqual(data);
    });

    it('cancel removes the session; unknown and malformed ids are BLOB_UPLOAD_UNKNOWN', async () => {
      const store = await f.uploads(clock);
      const up = await store.start('app');
      await store.append(up.id, body(Buffer.from('some bytes')));
      await store.cancel(up.id);
      expect(await store.get(up.id)).toBeUndefined();
      expect(await f.leftovers()).toEqual([]);
      for (const id of [up.id, '../../etc', 'not-a-uuid', '00000000-0000-0000-0000-000000000000']) {
        expect(isOciError(await rejection(store.append(id, body(Buffer.from('x')))), 'BLOB_UPLOAD_UNKNOWN')).toBe(true);
        expect(isOciError(await rejection(store.finish(id, digestOf('x'))), 'BLOB_UPLOAD_UNKNOWN')).toBe(true);
        expect(isOciError(await rejection(store.cancel(id)), 'BLOB_UPLOAD_UNKNOWN')).toBe(true);
      }
    });

    it('purgeStale removes sessions older than the limit', async () => {
      let now = 1_000;
      const store = await f.uploads({ now: () => now });
      const up = await store.start('app');
      await store.append(up.id, body(Buffer.from('abandoned')));
      now += 5_000;
      expect(await store.purgeStale(10_000)).toBe(0);
      expect((await store.get(up.id))?.size).toBe(9);
      now += 10_000;
      expect(await store.purgeStale(10_000)).toBe(1);
      expect(await store.get(up.id)).toBeUndefined();
      expect(await f.leftovers()).toEqual([]);
    });
  });
}
