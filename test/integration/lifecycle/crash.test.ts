import { randomBytes } from 'node:crypto';
import { mkdir, rm, utimes, writeFile } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { freePort } from '../../helpers/distribution.js';
import { FakeHub } from '../../helpers/fake-hub.js';
import { startMirror } from '../../helpers/mirror.js';
import { makeImage, pullImage, pushPreparedImage, type PreparedImage } from '../../helpers/push-image.js';
import { blobPath, sha256 } from '../../helpers/push.js';
import { startRegistry, tmpDir } from '../../helpers/registry.js';
import { ReplicaProcess } from '../../helpers/replicas.js';
import { countFiles, danglingReferences, hubImage } from './cache-fixture.js';

const dirs: string[] = [];
const children: ReplicaProcess[] = [];

/** The real entry point (src/main.ts) as a child process over `dataDir`, so it can be SIGKILLed. */
async function startChild(dataDir: string, config: Record<string, unknown>): Promise<ReplicaProcess> {
  const port = await freePort();
  const configPath = join(dataDir, '..', `config-${port}.yaml`);
  const storage = { dataDir, ...((config.storage as object | undefined) ?? {}) };
  await writeFile(configPath, JSON.stringify({ ...config, server: { host: '127.0.0.1', port, workers: 1 }, storage, log: { level: 'warn' } }));
  const child = new ReplicaProcess(`127.0.0.1:${port}`, configPath, {});
  children.push(child);
  await child.start();
  return child;
}

/** Polls `progress` until it is strictly between `from` and `to` (the sweep is under way), then SIGKILLs. */
async function killMidway(child: ReplicaProcess, progress: () => Promise<number>, from: number, to: number): Promise<number> {
  const deadline = Date.now() + 60_000;
  for (;;) {
    const now = await progress();
    if (now < from && now > to) {
      await child.kill();
      return now;
    }
    if (now <= to) throw new Error(`the sweep finished (${now}) before it could be interrupted`);
    if (Date.now() > deadline) throw new Error(`the sweep did not start (${now})`);
    await sleep(2);
  }
}

afterAll(async () => {
  for (const c of children) await c.kill().catch(() => undefined);
  for (const d of dirs) await rm(d, { recursive: true, force: true });
});

describe('SIGKILL in the middle of GC and of eviction, then restart on the same data', () => {
  let hub: FakeHub;
  beforeAll(async () => {
    hub = await FakeHub.start();
  });
  afterAll(async () => {
    await hub?.stop();
  });

  it('GC: no dangling link after restart, every image pulls, the next GC finishes the job', async () => {
    const root = await tmpDir('gc-crash-');
    dirs.push(root);
    const dataDir = join(root, 'data');
    const first = await startRegistry({}, { dataDir, keepData: true });
    const images = Array.from({ length: 5 }, (_v, i) => makeImage(`keep/app${i}`, 'v1', [1000 + i, 3000]));
    for (const im of images) await pushPreparedImage(first.url, im);
    await first.close();
    // 600 blobs pushed long ago whose manifests never came: links in 20 repositories, nothing else.
    const GARBAGE = 600;
    const old = new Date(Date.now() - 7 * 86_400_000);
    const writeGarbage = async (i: number) => {
      const bytes = randomBytes(64);
      const d = sha256(bytes);
      const path = blobPath(dataDir, d);
      await mkdir(dirname(path), { recursive: true });
      await writeFile(path, bytes);
      await utimes(path, old, old);
      const link = join(dataDir, 'repositories', 'junk', `r${i % 20}`, '_layers', 'sha256', d.slice(7));
      await mkdir(dirname(link), { recursive: true });
      await writeFile(link, '{"origin":"hosted"}');
    };
    for (let i = 0; i < GARBAGE; i += 200) await Promise.all(Array.from({ length: 200 }, (_v, j) => writeGarbage(i + j)));
    const blobsDir = join(dataDir, 'blobs');
    const total = await countFiles(blobsDir);

    // Paced (as an operator sparing a busy disk would), so the kill lands mid-sweep on any machine.
    const child = await startChild(dataDir, { storage: { gc: { intervalSeconds: 1, graceSeconds: 60, deletesPerSecond: 100 } } });
    const left = await killMidway(child, () => countFiles(blobsDir), total, total - GARBAGE);
    expect(left).toBeLessThan(total);

    const again = await startRegistry({ storage: { gc: { intervalSeconds: 0, graceSeconds: 60 } } }, { dataDir, keepData: true });
    try {
      expect(await danglingReferences(dataDir)).toEqual([]);
      for (const im of images) {
        const pulled = await pullImage(again.url, im.repo, im.tag);
        expect(pulled.manifest.equals(im.manifest)).toBe(true);
        expect(pulled.blobs.map((b) => b.toString('hex'))).toEqual(im.blobs.map((b) => b.data.toString('hex')));
      }
      const report = (await again.registry.lifecycle.runGc())!;
      expect(report.blobs).toBeGreaterThan(0);
      expect(await countFiles(blobsDir)).toBe(total - GARBAGE);
      expect(await danglingReferences(dataDir)).toEqual([]);
    } finally {
      await again.close();
    }
  });

  it('eviction: no dangling tag, manifest or link after restart; evicted and kept images all pull', async () => {
    const root = await tmpDir('evict-crash-');
    dirs.push(root);
    const dataDir = join(root, 'data');
    const IMAGES = 60;
    const images: PreparedImage[] = [];
    for (let i = 0; i < IMAGES; i++) images.push(hubImage(hub, `lib/c${i}`, 'v1', [512 + i]));
    const filler = await startMirror(hub.url, {}, { dataDir, keepData: true }, { storage: { gc: { intervalSeconds: 0 } } });
    for (let i = 0; i < IMAGES; i += 10) await Promise.all(images.slice(i, i + 10).map((im) => pullImage(filler.url, im.repo, im.tag)));
    await filler.close();
    const tagsDir = join(dataDir, 'repositories', 'docker.io', 'lib');
    expect(await countFiles(tagsDir)).toBeGreaterThan(IMAGES * 3);

    // A cap far below what is cached: the first pass evicts nearly everything.
    const child = await startChild(dataDir, {
      upstreams: [{ name: 'hub', url: hub.url, prefix: 'docker.io/', default: true, dockerHub: true }],
      cache: { maxBytes: '16KiB', evictionIntervalSeconds: 0.1 },
      storage: { gc: { intervalSeconds: 0, deletesPerSecond: 100 } },
    });
    const before = await countFiles(tagsDir);
    await killMidway(child, () => countFiles(tagsDir), before, IMAGES * 0.2);

    const again = await startMirror(hub.url, {}, { dataDir, keepData: true }, { storage: { gc: { intervalSeconds: 0 } } });
    try {
      expect(await danglingReferences(dataDir)).toEqual([]);
      for (let i = 0; i < IMAGES; i += 10) {
        await Promise.all(
          images.slice(i, i + 10).map(async (im) => {
            const pulled = await pullImage(again.url, im.repo, im.tag);
            expect(pulled.manifest.equals(im.manifest)).toBe(true);
            expect(pulled.blobs.map((b) => b.toString('hex'))).toEqual(im.blobs.map((b) => b.data.toString('hex')));
          }),
        );
      }
      expect(await danglingReferences(dataDir)).toEqual([]);
    } finally {
      await again.close();
    }
  });
});
