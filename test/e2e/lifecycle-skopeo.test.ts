import { existsSync } from 'node:fs';
import { readFile, rm } from 'node:fs/promises';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { dockerHubMirrorConf } from '../helpers/clients.js';
import { FakeHub } from '../helpers/fake-hub.js';
import { startMirror } from '../helpers/mirror.js';
import type { PreparedImage } from '../helpers/push-image.js';
import { blobPath } from '../helpers/push.js';
import { tmpDir, type RunningRegistry } from '../helpers/registry.js';
import { mustRun } from '../helpers/run-tool.js';
import { hubImage, sampleUsage, storedBytes } from '../integration/lifecycle/cache-fixture.js';

const KiB = 1024;
const CAP = 1024 * KiB;
const LAYER = 160 * KiB;

describe('skopeo through a capped mirror (registries.conf mirror for docker.io)', () => {
  let hub: FakeHub;
  let mirror: RunningRegistry;
  let work: string;
  let conf: string;
  let env: NodeJS.ProcessEnv;
  const images: PreparedImage[] = [];

  beforeAll(async () => {
    hub = await FakeHub.start();
    hub.faults.blobChunkDelayMs = 2;
    for (let i = 0; i < 9; i++) images.push(hubImage(hub, `lib/sk${i}`, 'v1', [LAYER]));
    mirror = await startMirror(hub.url, {}, {}, { cache: { maxBytes: '1MiB', highWatermark: 0.75, lowWatermark: 0.5, evictionIntervalSeconds: 0.2 }, storage: { gc: { intervalSeconds: 0 } } });
    work = await tmpDir('skopeo-lifecycle-');
    ({ conf, env } = await dockerHubMirrorConf(work, mirror.host));
  });
  afterAll(async () => {
    await mirror?.close();
    await hub?.stop();
    if (work) await rm(work, { recursive: true, force: true });
  });

  async function skopeoPull(i: number, into: string): Promise<void> {
    await mustRun('skopeo', ['--registries-conf', conf, 'copy', `docker://docker.io/lib/sk${i}:v1`, `dir:${join(work, into)}`], { env });
    const layer = images[i]!.blobs[1]!;
    expect((await readFile(join(work, into, layer.digest.slice(7)))).equals(layer.data)).toBe(true);
  }

  it('usage stays at or under cap + one blob at every sample; the recently pulled image survives, the oldest goes and pulls again byte-identical', async () => {
    const sampler = sampleUsage(mirror.dataDir);
    for (let i = 0; i < images.length; i++) {
      await skopeoPull(i, `p${i}`);
      if (i > 0 && i % 2 === 0) await skopeoPull(0, `again${i}`); // sk0 keeps being used
    }
    await mirror.registry.lifecycle.runEviction();
    const samples = await sampler.stop();
    expect(samples.length).toBeGreaterThan(20);
    expect(Math.max(...samples)).toBeLessThanOrEqual(CAP + LAYER + 2 * KiB);
    expect(await storedBytes(mirror.dataDir)).toBeLessThanOrEqual(CAP);
    expect(existsSync(blobPath(mirror.dataDir, images[0]!.blobs[1]!.digest))).toBe(true);
    expect(existsSync(blobPath(mirror.dataDir, images[1]!.blobs[1]!.digest))).toBe(false);

    const manifestGets = () => hub.count({ method: 'GET', pathIncludes: '/lib/sk1/manifests/' });
    const before = manifestGets();
    await skopeoPull(1, 'evicted-again');
    expect(manifestGets()).toBeGreaterThan(before);
    expect((await readFile(join(work, 'evicted-again', 'manifest.json'))).equals(images[1]!.manifest)).toBe(true);
  });
});
