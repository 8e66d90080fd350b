import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { FakeHub } from '../../helpers/fake-hub.js';
import { metricValue } from '../../helpers/metric-value.js';
import { captureLogger, startMirror } from '../../helpers/mirror.js';
import { makeImage, pullImage, pushPreparedImage, type PreparedImage } from '../../helpers/push-image.js';
import { blobPath } from '../../helpers/push.js';
import type { RunningRegistry } from '../../helpers/registry.js';
import { hubImage, sampleUsage, storedBytes } from './cache-fixture.js';

const KiB = 1024;
const CAP = 1024 * KiB;
const LAYER = 150 * KiB;

function tagPath(dataDir: string, repo: string, tag: string): string {
  return join(dataDir, 'repositories', ...`docker.io/${repo}`.split('/'), '_tags', tag);
}

function expectSame(pulled: Awaited<ReturnType<typeof pullImage>>, image: PreparedImage): void {
  expect(pulled.manifest.equals(image.manifest)).toBe(true);
  expect(pulled.blobs.map((b) => b.toString('hex'))).toEqual(image.blobs.map((b) => b.data.toString('hex')));
}

describe('cache byte cap with LRU eviction through the mirror', () => {
  let hub: FakeHub;
  let mirror: RunningRegistry;
  const images: PreparedImage[] = [];
  const log = captureLogger();

  beforeAll(async () => {
    hub = await FakeHub.start();
    hub.faults.blobChunkDelayMs = 2; // a fill takes a few ms, as over a real network
    for (let i = 0; i < 12; i++) images.push(hubImage(hub, `lib/img${i}`, 'v1', [LAYER]));
    mirror = await startMirror(
      hub.url,
      {},
      { logger: log.logger },
      {
        cache: { maxBytes: '1MiB', highWatermark: 0.75, lowWatermark: 0.5, evictionIntervalSeconds: 0.2, lastUseFlushSeconds: 0.2 },
        hostedNamespaces: ['acme/'],
        storage: { gc: { intervalSeconds: 0 } },
      },
    );
  });
  afterAll(async () => {
    await mirror?.close();
    await hub?.stop();
  });

  it('pulling 12 images of ~150 KiB under a 1 MiB cap keeps the store under cap + one blob; the recently pulled one survives', async () => {
    const sampler = sampleUsage(mirror.dataDir);
    for (let i = 0; i < images.length; i++) {
      expectSame(await pullImage(mirror.url, `lib/img${i}`, 'v1'), images[i]!);
      // img0 is pulled again after every other image: always recently used.
      if (i > 0) await pullImage(mirror.url, 'lib/img0', 'v1');
    }
    await mirror.registry.lifecycle.runEviction();
    const samples = await sampler.stop();
    expect(samples.length).toBeGreaterThan(20);
    expect(Math.max(...samples)).toBeLessThanOrEqual(CAP + LAYER + 2 * KiB);
    expect(await storedBytes(mirror.dataDir)).toBeLessThanOrEqual(CAP);

    // The recently used image is whole; the oldest ones went as whole images (tag, record, links, blobs).
    expect(existsSync(tagPath(mirror.dataDir, 'lib/img0', 'v1'))).toBe(true);
    for (const b of images[0]!.blobs) expect(existsSync(blobPath(mirror.dataDir, b.digest))).toBe(true);
    expect(existsSync(tagPath(mirror.dataDir, 'lib/img1', 'v1'))).toBe(false);
    expect(existsSync(blobPath(mirror.dataDir, images[1]!.manifestDigest))).toBe(false);
    for (const b of images[1]!.blobs) expect(existsSync(blobPath(mirror.dataDir, b.digest))).toBe(false);
    expect(existsSync(tagPath(mirror.dataDir, 'lib/img11', 'v1'))).toBe(true);
    expect(await metricValue(mirror.registry.metrics.cacheEvictions, { upstream: 'hub' })).toBeGreaterThan(0);
    expect(await metricValue(mirror.registry.metrics.cacheEvictedBytes)).toBeGreaterThan(4 * LAYER);
    expect(await metricValue(mirror.registry.metrics.cacheBytes)).toBeLessThanOrEqual(CAP);
  });

  it('an evicted image pulls again from upstream, byte-identical', async () => {
    const before = hub.count({ method: 'GET', pathIncludes: '/lib/img1/manifests/' });
    expectSame(await pullImage(mirror.url, 'lib/img1', 'v1'), images[1]!);
    expect(hub.count({ method: 'GET', pathIncludes: '/lib/img1/manifests/' })).toBe(before + 1);
  });

  it('hosted content is never evicted, even far over the cap: a metric and a warning say so', async () => {
    const hosted = Array.from({ length: 4 }, (_v, i) => makeImage(`acme/big${i}`, 'v1', [400 * KiB]));
    for (const im of hosted) await pushPreparedImage(mirror.url, im);
    const report = (await mirror.registry.lifecycle.runEviction())!;
    expect(report.hostedOverCap).toBe(true);
    expect(report.hostedBytes).toBeGreaterThan(CAP);
    expect(await metricValue(mirror.registry.metrics.cacheHostedOverCap)).toBe(1);
    expect(log.text()).toContain('hosted content alone exceeds cache.maxBytes');
    for (const im of hosted) expectSame(await pullImage(mirror.url, im.repo, im.tag), im);
    // Cached pulls go on under the cap beside it.
    expectSame(await pullImage(mirror.url, 'lib/img5', 'v1'), images[5]!);
    await mirror.registry.lifecycle.runEviction();
    for (const im of hosted) expectSame(await pullImage(mirror.url, im.repo, im.tag), im);
  });
});
