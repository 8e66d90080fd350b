import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { FakeHub } from '../../helpers/fake-hub.js';
import { metricValue } from '../../helpers/metric-value.js';
import { startMirror, waitForCachedBlobs } from '../../helpers/mirror.js';
import { pullImage } from '../../helpers/push-image.js';
import { sha256 } from '../../helpers/push.js';
import { OciLayout, type BuiltImage } from '../../helpers/oci-layout.js';
import { tmpDir, type RunningRegistry } from '../../helpers/registry.js';

describe('pull-through cache against a Docker-Hub-like upstream', () => {
  let hub: FakeHub;
  let mirror: RunningRegistry;
  let image: BuiltImage;
  let layoutDir: string;

  beforeAll(async () => {
    hub = await FakeHub.start();
    layoutDir = await tmpDir('hub-layout-');
    const layout = await OciLayout.create(layoutDir);
    image = await layout.addImage({ layerSizes: [300_000, 50_000], seed: 'alpine' });
    const other = await layout.addImage({ layerSizes: [10_000], seed: 'busybox' });
    await hub.addFromLayout(layoutDir, 'library/alpine', image.manifest.digest, '1');
    await hub.addFromLayout(layoutDir, 'library/busybox', other.manifest.digest, 'latest');
    mirror = await startMirror(hub.url);
  });
  afterAll(async () => {
    await mirror?.close();
    await hub?.stop();
  });

  it('cold pull returns the upstream bytes; a second pull makes no upstream request', async () => {
    const cold = await pullImage(mirror.url, 'library/alpine', '1');
    expect(cold.manifestDigest).toBe(image.manifest.digest);
    for (const d of [image.config.digest, ...image.layers.map((l) => l.digest)]) {
      expect(cold.contents.get(d)?.equals(await readFile(join(layoutDir, 'blobs', 'sha256', d.slice(7))))).toBe(true);
    }
    // One anonymous attempt (401 + challenge), then one authenticated GET: a single real fetch.
    expect(hub.requests.filter((r) => r.method === 'GET' && r.path.includes('/manifests/') && r.authorization !== undefined)).toHaveLength(1);
    expect(hub.count({ server: 'blobs', method: 'GET' })).toBe(3);
    // The object store behind the 307 never saw the upstream's Authorization header.
    expect(hub.requests.filter((r) => r.server === 'blobs' && r.authorization !== undefined)).toEqual([]);

    await waitForCachedBlobs(mirror.dataDir, [image.config.digest, ...image.layers.map((l) => l.digest)]);
    const before = hub.requests.length;
    const warm = await pullImage(mirror.url, 'library/alpine', '1');
    expect([...warm.contents.keys()].sort()).toEqual([...cold.contents.keys()].sort());
    expect(hub.requests.length).toBe(before);
    expect(await metricValue(mirror.registry.metrics.cacheHits, { kind: 'blob' })).toBe(3);
  });

  it('serves the same cache under /v2/library/x, /v2/x, /v2/docker.io/library/x and ?ns=docker.io', async () => {
    const before = hub.requests.length;
    for (const [name, query] of [
      ['alpine', ''],
      ['docker.io/library/alpine', ''],
      ['library/alpine', '?ns=docker.io'],
    ] as const) {
      const res = await fetch(`${mirror.url}/v2/${name}/manifests/1${query}`, { headers: { accept: 'application/vnd.oci.image.manifest.v1+json' } });
      expect(res.status).toBe(200);
      expect(res.headers.get('docker-content-digest')).toBe(image.manifest.digest);
      await res.arrayBuffer();
    }
    expect(hub.requests.length).toBe(before);
    // containerd's HEAD resolve must carry digest and length.
    const head = await fetch(`${mirror.url}/v2/library/alpine/manifests/1?ns=docker.io`, { method: 'HEAD' });
    expect(head.headers.get('docker-content-digest')).toBe(image.manifest.digest);
    expect(Number(head.headers.get('content-length'))).toBe(image.manifest.size);
  });

  it('a blob cached for one repository is linked into another after an upstream HEAD, not downloaded again', async () => {
    await hub.addFromLayout(layoutDir, 'library/alpine-copy', image.manifest.digest, '1');
    const layer = image.layers[0]!.digest;
    const res = await fetch(`${mirror.url}/v2/library/alpine-copy/blobs/${layer}`);
    expect(res.status).toBe(200);
    expect(sha256(Buffer.from(await res.arrayBuffer()))).toBe(layer);
    expect(hub.count({ server: 'blobs', method: 'GET', path: `/data/${layer}` })).toBe(1);
    expect(hub.count({ server: 'blobs', method: 'HEAD', path: `/data/${layer}` })).toBe(1);
  });

  it('an ?ns= for a registry we do not mirror is not sent to the default upstream', async () => {
    const res = await fetch(`${mirror.url}/v2/library/alpine/manifests/1?ns=quay.io`);
    expect(res.status).toBe(404);
  });

  it('HEAD on an uncached blob asks upstream without downloading; Range on a cached blob is local', async () => {
    const [layer] = image.layers; // cached by the first test
    const otherRoot = await pullManifestOnly(mirror.url, 'library/busybox', 'latest');
    const uncached = otherRoot.layers[0]!.digest;
    const head = await fetch(`${mirror.url}/v2/library/busybox/blobs/${uncached}`, { method: 'HEAD' });
    expect(head.status).toBe(200);
    expect(Number(head.headers.get('content-length'))).toBe(otherRoot.layers[0]!.size);
    expect(hub.count({ server: 'blobs', method: 'GET', path: `/data/${uncached}` })).toBe(0);
    expect(hub.count({ server: 'blobs', method: 'HEAD', path: `/data/${uncached}` })).toBe(1);

    const before = hub.requests.length;
    const range = await fetch(`${mirror.url}/v2/library/alpine/blobs/${layer!.digest}`, { headers: { range: 'bytes=10-19' } });
    expect(range.status).toBe(206);
    expect(Buffer.from(await range.arrayBuffer()).length).toBe(10);
    const cachedHead = await fetch(`${mirror.url}/v2/library/alpine/blobs/${layer!.digest}`, { method: 'HEAD' });
    expect(Number(cachedHead.headers.get('content-length'))).toBe(layer!.size);
    expect(hub.requests.length).toBe(before);
  });

  it('refuses pushes to mirrored names with DENIED; the catalog lists only local content', async () => {
    const push = await fetch(`${mirror.url}/v2/library/alpine/blobs/uploads/`, { method: 'POST' });
    expect(push.status).toBe(403);
    expect(((await push.json()) as { errors: Array<{ code: string }> }).errors[0]!.code).toBe('DENIED');
    const catalog = (await (await fetch(`${mirror.url}/v2/_catalog`)).json()) as { repositories: string[] };
    expect(catalog.repositories).toEqual(['docker.io/library/alpine', 'docker.io/library/busybox']); // alpine-copy: a blob link only, no manifest
  });

  it('lists tags from upstream and answers unknown images with MANIFEST_UNKNOWN', async () => {
    const tags = (await (await fetch(`${mirror.url}/v2/library/alpine/tags/list`)).json()) as { tags: string[] };
    expect(tags.tags).toEqual(['1']);
    const missing = await fetch(`${mirror.url}/v2/library/alpine/manifests/nothere`);
    expect(missing.status).toBe(404);
    expect(((await missing.json()) as { errors: Array<{ code: string }> }).errors[0]!.code).toBe('MANIFEST_UNKNOWN');
  });

  it('passes 429 on with a clear error and metrics, and keeps serving cached content', async () => {
    hub.faults.rateLimit = true;
    try {
      const res = await fetch(`${mirror.url}/v2/library/notcached/manifests/1`);
      expect(res.status).toBe(429);
      expect(res.headers.get('retry-after')).toBe('60');
      const body = (await res.json()) as { errors: Array<{ code: string; message: string }> };
      expect(body.errors[0]!.code).toBe('TOOMANYREQUESTS');
      expect(body.errors[0]!.message).toMatch(/rate limit/);
      expect(await metricValue(mirror.registry.metrics.upstreamRateLimited)).toBeGreaterThanOrEqual(1);
      expect(await metricValue(mirror.registry.metrics.upstreamRateLimitRemaining)).toBe(0);
      const blob = await fetch(`${mirror.url}/v2/library/alpine/blobs/${image.layers[0]!.digest}`);
      expect(blob.status).toBe(200);
      expect(sha256(Buffer.from(await blob.arrayBuffer()))).toBe(image.layers[0]!.digest);
    } finally {
      hub.faults.rateLimit = false;
    }
  });
});

async function pullManifestOnly(base: string, name: string, ref: string): Promise<{ layers: Array<{ digest: string; size: number }> }> {
  const res = await fetch(`${base}/v2/${name}/manifests/${ref}`);
  return (await res.json()) as { layers: Array<{ digest: string; size: number }> };
}
