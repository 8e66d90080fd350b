import { existsSync } from 'node:fs';
import { rename, rm, utimes } from 'node:fs/promises';
import { Readable } from 'node:stream';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { LiveBlobs } from '../../../src/lifecycle/live-blobs.js';
import type { Digest } from '../../../src/oci/digest.js';
import { FsBlobStore } from '../../../src/storage/fs-blob-store.js';
import { Layout } from '../../../src/storage/layout.js';
import { blobPath, sha256 } from '../../helpers/push.js';
import { tmpDir } from '../../helpers/registry.js';

const d = (s: string) => sha256(s) as Digest;

describe('the guards every sweep passes (real files, no mocks)', () => {
  let dir: string;
  let blobs: FsBlobStore;
  beforeAll(async () => {
    dir = await tmpDir('sweep-guards-');
    blobs = new FsBlobStore(new Layout(dir));
    await blobs.init();
  });
  afterAll(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  async function oldBlob(text: string): Promise<Digest> {
    const digest = d(text);
    await blobs.put(Readable.from([Buffer.from(text)]), digest);
    const old = new Date(Date.now() - 3600_000);
    await utimes(blobPath(dir, digest), old, old);
    return digest;
  }

  it('deleteIfUntouched: a touch before the deletion wins, an untouched blob goes, a crash leftover comes back', async () => {
    const cutoff = Date.now() - 60_000;
    const touched = await oldBlob('touched by a manifest PUT');
    expect(await blobs.touch(touched)).toBe(true);
    expect(await blobs.deleteIfUntouched(touched, cutoff)).toBe('kept');
    expect(existsSync(blobPath(dir, touched))).toBe(true);

    const idle = await oldBlob('nobody wants me');
    expect(await blobs.deleteIfUntouched(idle, cutoff)).toBe('deleted');
    expect(existsSync(blobPath(dir, idle))).toBe(false);
    expect(await blobs.touch(idle)).toBe(false); // a PUT checking it now sees it gone
    expect(await blobs.deleteIfUntouched(idle, cutoff)).toBe('missing');

    const aside = await oldBlob('renamed aside, then the process died');
    await rename(blobPath(dir, aside), `${blobPath(dir, aside)}.sweep`);
    expect(await blobs.stat(aside)).toBeUndefined();
    expect(await blobs.restoreSwept()).toBe(1);
    expect((await blobs.stat(aside))?.size).toBeGreaterThan(0);
    const listed = [];
    for await (const b of blobs.list()) listed.push(b.digest);
    expect(listed).toEqual(expect.arrayContaining([touched, aside]));
    expect(listed).not.toContain(idle);
  });

  it('LiveBlobs: anything held since a sweep began is kept; a pin during a deletion waits for it', async () => {
    const live = new LiveBlobs();
    const a = d('a');
    const b = d('b');
    const c = d('c');
    const releaseA = live.hold(a); // held before the sweep, released during it (a PUT that finished mid-sweep)
    const g = live.beginSweep();
    releaseA();
    expect(live.heldSince(a, g)).toBe(true);
    expect(await live.deleteUnlessHeld(a, g, async () => 'deleted' as const)).toBe('held');
    expect(live.heldSince(b, g)).toBe(false);

    let finish!: () => void;
    const deleting = live.deleteUnlessHeld(b, g, () => new Promise<'deleted'>((r) => (finish = () => r('deleted'))));
    let pinned = false;
    const pin = live.pin([b]).then((release) => {
      pinned = true;
      return release;
    });
    await new Promise((r) => setTimeout(r, 20));
    expect(pinned).toBe(false); // waits until the deletion is over, then finds the blob gone
    finish();
    expect(await deleting).toBe('deleted');
    (await pin)();
    live.endSweep(g);

    // A later sweep is not bothered by holds that ended before it began.
    const g2 = live.beginSweep();
    expect(live.heldSince(a, g2)).toBe(false);
    const releaseC = live.hold(c);
    expect(await live.deleteUnlessHeld(c, g2, async () => 'deleted' as const)).toBe('held');
    releaseC();
    live.endSweep(g2);
  });
});
