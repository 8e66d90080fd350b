import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { FakeHub } from '../../helpers/fake-hub.js';
import { metricValue } from '../../helpers/metric-value.js';
import { captureLogger, ManualClock, startMirror } from '../../helpers/mirror.js';
import { OCI_MANIFEST, sha256 } from '../../helpers/push.js';
import type { RunningRegistry } from '../../helpers/registry.js';


function manifestFor(hub: FakeHub, label: string): Buffer {
  const config = Buffer.from(JSON.stringify({ label }));
  const digest = hub.addBlob(config);
  return Buffer.from(JSON.stringify({ schemaVersion: 2, mediaType: OCI_MANIFEST, config: { mediaType: 'application/vnd.oci.image.config.v1+json', digest, size: config.length }, layers: [] }));
}

async function tagDigest(mirror: RunningRegistry, name = 'library/app', tag = 'stable'): Promise<string | number> {
  const res = await fetch(`${mirror.url}/v2/${name}/manifests/${tag}`);
  const body = Buffer.from(await res.arrayBuffer());
  if (res.status !== 200) return res.status;
  expect(res.headers.get('docker-content-digest')).toBe(sha256(body));
  return sha256(body);
}

const authedManifestRequests = (hub: FakeHub, method: string) =>
  hub.requests.filter((r) => r.method === method && r.path.includes('/manifests/') && r.authorization !== undefined).length;

describe('tag TTL and revalidation', () => {
  let hub: FakeHub;
  let mirror: RunningRegistry;
  const clock = new ManualClock();
  let v1: string;
  let v2: string;

  beforeAll(async () => {
    hub = await FakeHub.start();
    v1 = hub.addManifest('library/app', OCI_MANIFEST, manifestFor(hub, 'v1'), 'stable');
    v2 = hub.addManifest('library/app', OCI_MANIFEST, manifestFor(hub, 'v2'));
    mirror = await startMirror(hub.url, { tagTtlSeconds: 60 }, { clock });
  });
  afterAll(async () => {
    await mirror?.close();
    await hub?.stop();
  });

  it('serves a cached tag within the TTL without asking upstream, even when it moved there', async () => {
    expect(await tagDigest(mirror)).toBe(v1);
    hub.moveTag('library/app', 'stable', v2);
    const before = hub.requests.length;
    clock.advance(59_000);
    expect(await tagDigest(mirror)).toBe(v1);
    expect(hub.requests.length).toBe(before);
  });

  it('after the TTL, a HEAD revalidates and the moved tag is fetched by digest', async () => {
    const heads = authedManifestRequests(hub, 'HEAD');
    const gets = authedManifestRequests(hub, 'GET');
    clock.advance(2_000);
    expect(await tagDigest(mirror)).toBe(v2);
    expect(authedManifestRequests(hub, 'HEAD')).toBe(heads + 1);
    expect(authedManifestRequests(hub, 'GET')).toBe(gets + 1);
    expect(hub.requests.at(-1)!.path).toBe(`/v2/library/app/manifests/${v2}`);
  });

  it('an unchanged tag after the TTL costs one HEAD and no GET', async () => {
    const gets = authedManifestRequests(hub, 'GET');
    const heads = authedManifestRequests(hub, 'HEAD');
    clock.advance(61_000);
    expect(await tagDigest(mirror)).toBe(v2);
    expect(authedManifestRequests(hub, 'HEAD')).toBe(heads + 1);
    expect(authedManifestRequests(hub, 'GET')).toBe(gets);
  });
});

describe('stale-if-error', () => {
  let hub: FakeHub;
  let mirror: RunningRegistry;
  const clock = new ManualClock();
  const log = captureLogger();
  let v1: string;
  let configDigest: string;

  beforeAll(async () => {
    hub = await FakeHub.start();
    const body = manifestFor(hub, 'kept');
    configDigest = (JSON.parse(body.toString()) as { config: { digest: string } }).config.digest;
    v1 = hub.addManifest('library/app', OCI_MANIFEST, body, 'stable');
    mirror = await startMirror(hub.url, { tagTtlSeconds: 10, timeoutSeconds: 2 }, { clock, logger: log.logger });
    expect(await tagDigest(mirror)).toBe(v1);
    expect((await fetch(`${mirror.url}/v2/library/app/blobs/${configDigest}`)).status).toBe(200);
  });
  afterAll(async () => {
    await mirror?.close();
  });

  it('an upstream answering 503 → the cached tag is served, with a warning and a metric', async () => {
    hub.faults.unavailable = true;
    clock.advance(11_000);
    expect(await tagDigest(mirror)).toBe(v1);
    expect(await metricValue(mirror.registry.metrics.cacheStaleServed)).toBe(1);
    expect(log.text()).toMatch(/stale-if-error/);
    hub.faults.unavailable = false;
  });

  it('the upstream stopped → cached tags and blobs are still served; uncached names get UNAVAILABLE', async () => {
    await hub.stop();
    clock.advance(11_000);
    expect(await tagDigest(mirror)).toBe(v1);
    expect(await tagDigest(mirror, 'docker.io/library/app')).toBe(v1);
    const blob = await fetch(`${mirror.url}/v2/library/app/blobs/${configDigest}`);
    expect(blob.status).toBe(200);
    await blob.arrayBuffer();
    const byDigest = await fetch(`${mirror.url}/v2/library/app/manifests/${v1}`);
    expect(byDigest.status).toBe(200);
    await byDigest.arrayBuffer();
    const missing = await fetch(`${mirror.url}/v2/library/other/manifests/1`);
    expect(missing.status).toBe(503);
    expect(((await missing.json()) as { errors: Array<{ code: string }> }).errors[0]!.code).toBe('UNAVAILABLE');
    expect(await metricValue(mirror.registry.metrics.cacheStaleServed)).toBeGreaterThanOrEqual(3);
  });
});
