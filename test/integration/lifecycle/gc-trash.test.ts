import { existsSync } from 'node:fs';
import { utimes } from 'node:fs/promises';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { runAdmin } from '../../../src/cli/admin-commands.js';
import { metricValue } from '../../helpers/metric-value.js';
import { ManualClock } from '../../helpers/mirror.js';
import { makeImage, pullImage, pushPreparedImage, type PreparedImage } from '../../helpers/push-image.js';
import { blobPath, OCI_MANIFEST, pushBlob, putManifest } from '../../helpers/push.js';
import { startRegistry, type RunningRegistry } from '../../helpers/registry.js';

async function admin(args: string[], now?: () => number): Promise<{ code: number; out: string; err: string }> {
  const out: string[] = [];
  const err: string[] = [];
  const code = await runAdmin(args, { out: (l) => out.push(l), err: (l) => err.push(l), readStdin: async () => '', env: {}, ...(now ? { now } : {}) });
  return { code, out: out.join('\n'), err: err.join('\n') };
}

function expectSame(pulled: Awaited<ReturnType<typeof pullImage>>, image: PreparedImage): void {
  expect(pulled.manifest.equals(image.manifest)).toBe(true);
  expect(pulled.blobs.map((b) => b.toString('hex'))).toEqual(image.blobs.map((b) => b.data.toString('hex')));
}

describe('trash: delete, restore, and GC after the window (injected clock)', () => {
  const clock = new ManualClock();
  let reg: RunningRegistry;
  beforeAll(async () => {
    reg = await startRegistry({ storage: { trashDays: 30, gc: { intervalSeconds: 0, graceSeconds: 60 } } }, { clock });
  });
  afterAll(async () => {
    await reg?.close();
  });

  it('a deleted tag and a deleted manifest come back byte-identical, by CLI and by tag or digest', async () => {
    const image = makeImage('team/app', 'v1', [3000, 5000]);
    await pushPreparedImage(reg.url, image);
    expect((await fetch(`${reg.url}/v2/team/app/manifests/v1`, { method: 'DELETE' })).status).toBe(202);
    expect((await fetch(`${reg.url}/v2/team/app/manifests/v1`)).status).toBe(404);

    const listed = await admin(['--data-dir', reg.dataDir, 'trash', 'list']);
    expect(listed.code).toBe(0);
    expect(listed.out).toContain('team/app:v1');
    const restored = await admin(['--data-dir', reg.dataDir, 'restore', 'team/app:v1']);
    expect(restored.code, restored.err).toBe(0);
    expectSame(await pullImage(reg.url, 'team/app', 'v1'), image);

    // By digest: the record and its tags go; restore by digest brings both back.
    expect((await fetch(`${reg.url}/v2/team/app/manifests/${image.manifestDigest}`, { method: 'DELETE' })).status).toBe(202);
    expect((await fetch(`${reg.url}/v2/team/app/manifests/${image.manifestDigest}`)).status).toBe(404);
    // GC while it is in the trash: nothing of it goes, even long past the grace period.
    clock.advance(10 * 86_400_000);
    const gc = (await reg.registry.lifecycle.runGc())!;
    expect(gc.reclaimed.map((b) => b.digest)).not.toContain(image.manifestDigest);
    for (const b of image.blobs) expect(existsSync(blobPath(reg.dataDir, b.digest))).toBe(true);
    const back = await admin(['--data-dir', reg.dataDir, 'restore', `team/app@${image.manifestDigest}`], () => clock.now());
    expect(back.code, back.err).toBe(0);
    expect(back.out).toContain('v1');
    expectSame(await pullImage(reg.url, 'team/app', 'v1'), image);
    expect((await admin(['--data-dir', reg.dataDir, 'restore', 'team/app:nope'], () => clock.now())).code).toBe(1);
  });

  it('after the window the entry expires and GC reclaims the bytes', async () => {
    const image = makeImage('team/old', 'v1', [4096, 8192]);
    await pushPreparedImage(reg.url, image);
    expect((await fetch(`${reg.url}/v2/team/old/manifests/${image.manifestDigest}`, { method: 'DELETE' })).status).toBe(202);
    clock.advance(29 * 86_400_000);
    expect((await reg.registry.lifecycle.runGc())!.reclaimed.map((b) => b.digest)).not.toContain(image.manifestDigest);
    const bytesBefore = await metricValue(reg.registry.metrics.gcReclaimedBytes);
    // An upload session a client abandoned: reclaimed by the same run once older than storage.uploadExpirySeconds.
    const upload = await fetch(`${reg.url}/v2/team/old/blobs/uploads/`, { method: 'POST' });
    expect(upload.status).toBe(202);
    const uploadUrl = new URL(upload.headers.get('location')!, reg.url).toString();
    clock.advance(2 * 86_400_000);
    const dry = await admin(['--data-dir', reg.dataDir, 'gc', '--dry-run'], () => clock.now());
    expect(dry.code, dry.err).toBe(0);
    expect(dry.out).toContain(`would reclaim\t${image.manifestDigest}`);
    expect(existsSync(blobPath(reg.dataDir, image.manifestDigest))).toBe(true);
    const gc = (await reg.registry.lifecycle.runGc())!;
    const gone = [image.manifestDigest, ...image.blobs.map((b) => b.digest)];
    expect(gc.reclaimed.map((b) => b.digest).sort()).toEqual(expect.arrayContaining(gone));
    for (const d of gone) expect(existsSync(blobPath(reg.dataDir, d))).toBe(false);
    expect(gc.links).toBe(image.blobs.length); // the repository's links went with their blobs
    expect(gc.uploads).toBe(1);
    expect((await fetch(uploadUrl)).status).toBe(404);
    expect(await metricValue(reg.registry.metrics.gcReclaimedBytes)).toBeGreaterThanOrEqual(bytesBefore + 4096 + 8192);
    expect((await admin(['--data-dir', reg.dataDir, 'restore', `team/old@${image.manifestDigest}`], () => clock.now())).code).toBe(1);
    // The other image, restored earlier, still pulls.
    expect((await pullImage(reg.url, 'team/app', 'v1')).blobs.length).toBe(3);
  });
});

describe('GC racing pushes (system clock)', () => {
  let strict: RunningRegistry;
  let graceful: RunningRegistry;
  beforeAll(async () => {
    // Grace 0: only the in-flight guard and touch-on-reference keep a pushed-but-unreferenced blob.
    strict = await startRegistry({ storage: { trashDays: 0, gc: { intervalSeconds: 0, graceSeconds: 0 } } });
    graceful = await startRegistry({ storage: { trashDays: 0, gc: { intervalSeconds: 0, graceSeconds: 60 } } });
  });
  afterAll(async () => {
    await strict?.close();
    await graceful?.close();
  });

  async function race(reg: RunningRegistry): Promise<{ ok: PreparedImage[]; failed: string[]; gcRuns: number }> {
    const images = Array.from({ length: 20 }, (_v, i) => makeImage(`race/r${i % 5}`, `t${i}`, [2048 + i, 4096]));
    let pushing = true;
    let gcRuns = 0;
    const gcLoop = (async () => {
      while (pushing) {
        await reg.registry.lifecycle.runGc();
        gcRuns++;
      }
    })();
    const results = await Promise.allSettled(images.map((im) => pushPreparedImage(reg.url, im)));
    pushing = false;
    await gcLoop;
    await reg.registry.lifecycle.runGc();
    const ok = images.filter((_im, i) => results[i]!.status === 'fulfilled');
    const failed = results.flatMap((r) => (r.status === 'rejected' ? [String((r.reason as Error).message)] : []));
    return { ok, failed, gcRuns };
  }

  it('with a grace period every one of 20 concurrent pushes succeeds and pulls byte-identical after GC', async () => {
    // Garbage that must go meanwhile: an old unreferenced blob.
    const junk = await pushBlob(graceful.url, 'race/junk', 'junk bytes nobody references');
    const old = new Date(Date.now() - 3600_000);
    await utimes(blobPath(graceful.dataDir, junk.digest), old, old);
    const { ok, failed, gcRuns } = await race(graceful);
    expect(failed).toEqual([]);
    expect(gcRuns).toBeGreaterThan(1);
    for (const im of ok) expectSame(await pullImage(graceful.url, im.repo, im.tag), im);
    expect(existsSync(blobPath(graceful.dataDir, junk.digest))).toBe(false);
    expect((await fetch(`${graceful.url}/v2/race/junk/blobs/${junk.digest}`, { method: 'HEAD' })).status).toBe(404);
  });

  it('with no grace period at all, manifest PUTs racing sweeps: every acknowledged push pulls byte-identical', async () => {
    // Blobs first (garbage at grace 0 until their manifest lands), then 20 manifest PUTs against a GC loop:
    // a PUT either pins its blobs before the sweep deletes them (kept, 201) or finds them gone (400).
    const images = Array.from({ length: 20 }, (_v, i) => makeImage(`strict/r${i % 5}`, `t${i}`, [1024 + i, 2048]));
    for (const im of images) for (const b of im.blobs) await pushBlob(strict.url, im.repo, b.data);
    let sweeping = true;
    let runs = 0;
    const gcLoop = (async () => {
      while (sweeping) {
        await strict.registry.lifecycle.runGc();
        runs++;
      }
    })();
    while (runs === 0) await new Promise((r) => setTimeout(r, 1));
    const statuses = await Promise.all(images.map(async (im) => (await putManifest(strict.url, im.repo, im.tag, im.manifest, OCI_MANIFEST)).status));
    sweeping = false;
    await gcLoop;
    await strict.registry.lifecycle.runGc();
    expect(statuses.every((s) => s === 201 || s === 400)).toBe(true);
    const ok = images.filter((_im, i) => statuses[i] === 201);
    for (const im of ok) expectSame(await pullImage(strict.url, im.repo, im.tag), im);
    expect(ok.length + statuses.filter((s) => s === 400).length).toBe(20);
  });
});
