import { randomBytes } from 'node:crypto';
import { existsSync } from 'node:fs';
import { rm } from 'node:fs/promises';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { FakeHub } from '../../helpers/fake-hub.js';
import { metricValue } from '../../helpers/metric-value.js';
import { captureLogger, startMirror, waitForCachedBlobs } from '../../helpers/mirror.js';
import { blobPath, errorCode, imageManifest, OCI_CONFIG, OCI_LAYER, OCI_MANIFEST, pushBlob, pushImage, putManifest, sha256, type PushedImage } from '../../helpers/push.js';
import { startRegistry, tmpDir, type RunningRegistry } from '../../helpers/registry.js';
import { download, flipByte, quarantined, waitFor } from './helpers.js';

/** Issue 10, item 1: never send a complete body that does not hash to the digest it is served under. */
describe('1. bit rot is served as valid: hosted content', () => {
  let dataDir: string;
  let reg: RunningRegistry;
  let image: PushedImage;
  let intact: { digest: string; bytes: Buffer };
  const log = captureLogger();

  beforeAll(async () => {
    dataDir = await tmpDir('bitrot-');
    const first = await startRegistry({}, { dataDir, keepData: true });
    image = await pushImage(first.url, 'team/app', 'v1', { seed: 'rot', layers: [randomBytes(3 * 1024 * 1024 + 17).toString('latin1')] });
    const bytes = randomBytes(2 * 1024 * 1024);
    intact = { digest: (await pushBlob(first.url, 'team/app', bytes)).digest, bytes };
    await first.close();
    // One byte changes on disk while the server is stopped.
    await flipByte(blobPath(dataDir, image.layers[0]!.digest));
    await flipByte(blobPath(dataDir, image.manifest.digest), 20);
    reg = await startRegistry({ storage: { scrubBytesPerSecond: 0 } }, { dataDir, logger: log.logger });
  });
  afterAll(async () => {
    await reg?.close();
    await rm(dataDir, { recursive: true, force: true });
  });

  it('a corrupt layer: the GET is cut before its last byte, the blob is quarantined and counted; the next GET is 404', async () => {
    const { digest, size } = image.layers[0]!;
    const got = await download(`${reg.url}/v2/team/app/blobs/${digest}`, digest);
    expect(got.status).toBe(200);
    expect(got.complete).toBe(false);
    expect(got.intact).toBe(false);
    expect(got.bytes).toBeLessThan(size);
    // Quarantine runs after the cut: moved aside, re-hashed there to confirm, then counted.
    await waitFor('the corrupt blob counted', async () => (await metricValue(reg.registry.metrics.storeCorrupt, { kind: 'blob' })) === 1);
    expect((await quarantined(dataDir)).some((f) => f.endsWith(digest.slice(7)))).toBe(true);
    expect(existsSync(blobPath(dataDir, digest))).toBe(false);
    expect(log.text()).toContain('moved to quarantine');
    const again = await fetch(`${reg.url}/v2/team/app/blobs/${digest}`);
    expect(again.status).toBe(404);
    expect(await errorCode(again)).toBe('BLOB_UNKNOWN');
  });

  it('a corrupt manifest: 404 MANIFEST_UNKNOWN by tag and by digest, never a body under a digest it does not have', async () => {
    for (const ref of ['v1', image.manifest.digest]) {
      const res = await fetch(`${reg.url}/v2/team/app/manifests/${ref}`, { headers: { Accept: OCI_MANIFEST } });
      expect(res.status, ref).toBe(404);
      expect(await errorCode(res)).toBe('MANIFEST_UNKNOWN');
    }
    expect((await quarantined(dataDir)).some((f) => f.endsWith(image.manifest.digest.slice(7)))).toBe(true);
    expect(await metricValue(reg.registry.metrics.storeCorrupt, { kind: 'manifest' })).toBe(1);
    // Pushed again (its blobs first), the manifest is whole again.
    const config = await pushBlob(reg.url, 'team/app', JSON.stringify({ architecture: 'amd64', os: 'linux', seed: 'rot' }), OCI_CONFIG);
    const layer = await pushBlob(reg.url, 'team/app', 'fresh layer', OCI_LAYER);
    const body = imageManifest(config, [layer]);
    expect((await putManifest(reg.url, 'team/app', 'v2', body, OCI_MANIFEST)).status).toBe(201);
    const fresh = await fetch(`${reg.url}/v2/team/app/manifests/v2`, { headers: { Accept: OCI_MANIFEST } });
    expect(fresh.headers.get('docker-content-digest')).toBe(sha256(body));
  });

  it('an intact blob is hashed on its first whole read only, and served whole every time', async () => {
    const before = await metricValue(reg.registry.metrics.storeBlobsVerified, { path: 'read' });
    for (let i = 0; i < 3; i++) {
      const got = await download(`${reg.url}/v2/team/app/blobs/${intact.digest}`, intact.digest);
      expect(got).toEqual({ status: 200, bytes: intact.bytes.length, complete: true, intact: true });
    }
    expect(await metricValue(reg.registry.metrics.storeBlobsVerified, { path: 'read' })).toBe(before + 1);
  });
});

describe('1. bit rot is served as valid: ranges and the scrub', () => {
  let reg: RunningRegistry;

  beforeAll(async () => {
    reg = await startRegistry({ storage: { scrubBytesPerSecond: 64 * 1024 * 1024, scrubIntervalSeconds: 3600 } });
  });
  afterAll(async () => {
    await reg?.close();
  });

  it('a range of a never-verified blob is served (ranges cannot be checked inline) and queued: the scrub quarantines it', async () => {
    const bytes = randomBytes(1024 * 1024);
    const { digest } = await pushBlob(reg.url, 'team/ranged', bytes);
    await flipByte(blobPath(reg.dataDir, digest), 1000);
    const part = await fetch(`${reg.url}/v2/team/ranged/blobs/${digest}`, { headers: { Range: 'bytes=0-99' } });
    expect(part.status).toBe(206);
    expect(Buffer.from(await part.arrayBuffer())).toEqual(bytes.subarray(0, 100));
    await waitFor('the scrub to quarantine the blob', async () => (await metricValue(reg.registry.metrics.storeCorrupt, { kind: 'blob' })) === 1);
    expect(existsSync(blobPath(reg.dataDir, digest))).toBe(false);
    expect((await quarantined(reg.dataDir)).some((f) => f.endsWith(digest.slice(7)))).toBe(true);
    expect((await fetch(`${reg.url}/v2/team/ranged/blobs/${digest}`)).status).toBe(404);
  });

  it('an intact blob read by range is verified by the scrub and then marked verified', async () => {
    const bytes = randomBytes(256 * 1024);
    const { digest } = await pushBlob(reg.url, 'team/ranged', bytes);
    const before = await metricValue(reg.registry.metrics.storeBlobsVerified, { path: 'scrub' });
    expect((await fetch(`${reg.url}/v2/team/ranged/blobs/${digest}`, { headers: { Range: 'bytes=10-19' } })).status).toBe(206);
    await waitFor('the scrub to verify the blob', async () => (await metricValue(reg.registry.metrics.storeBlobsVerified, { path: 'scrub' })) > before);
    expect(existsSync(blobPath(reg.dataDir, digest))).toBe(true);
  });
});

describe('1. bit rot is served as valid: cached content heals itself from upstream', () => {
  let hub: FakeHub;
  let dataDir: string;
  let mirror: RunningRegistry;
  let layer: { digest: string; bytes: Buffer };
  let manifest: { digest: string; body: Buffer };

  beforeAll(async () => {
    hub = await FakeHub.start();
    const bytes = randomBytes(1536 * 1024);
    layer = { digest: hub.addBlob(bytes), bytes };
    const config = Buffer.from(JSON.stringify({ architecture: 'amd64', os: 'linux' }));
    const configDigest = hub.addBlob(config);
    const body = imageManifest({ mediaType: OCI_CONFIG, digest: configDigest, size: config.length }, [{ mediaType: OCI_LAYER, digest: layer.digest, size: bytes.length }]);
    manifest = { digest: hub.addManifest('library/heal', OCI_MANIFEST, body, 'latest'), body };
    dataDir = await tmpDir('heal-');
    const first = await startMirror(hub.url, {}, { dataDir, keepData: true });
    expect((await fetch(`${first.url}/v2/library/heal/manifests/latest`, { headers: { Accept: OCI_MANIFEST } })).status).toBe(200);
    expect((await download(`${first.url}/v2/library/heal/blobs/${layer.digest}`, layer.digest)).intact).toBe(true);
    await waitForCachedBlobs(dataDir, [layer.digest]);
    await first.close();
    await flipByte(blobPath(dataDir, layer.digest));
    await flipByte(blobPath(dataDir, manifest.digest), 10);
    mirror = await startMirror(hub.url, {}, { dataDir }, { storage: { scrubBytesPerSecond: 0 } });
  });
  afterAll(async () => {
    await mirror?.close();
    await hub?.stop();
  });

  it('a corrupt cached manifest is refetched from upstream in the same pull, by tag and by digest', async () => {
    const before = hub.count({ method: 'GET', pathIncludes: '/manifests/' });
    const res = await fetch(`${mirror.url}/v2/library/heal/manifests/latest`, { headers: { Accept: OCI_MANIFEST } });
    expect(res.status).toBe(200);
    expect(res.headers.get('docker-content-digest')).toBe(manifest.digest);
    expect(Buffer.from(await res.arrayBuffer())).toEqual(manifest.body);
    expect(hub.count({ method: 'GET', pathIncludes: '/manifests/' })).toBe(before + 1);
    const byDigest = await fetch(`${mirror.url}/v2/library/heal/manifests/${manifest.digest}`, { headers: { Accept: OCI_MANIFEST } });
    expect(Buffer.from(await byDigest.arrayBuffer())).toEqual(manifest.body);
    expect(hub.count({ method: 'GET', pathIncludes: '/manifests/' })).toBe(before + 1); // healed copy served locally
    expect(await metricValue(mirror.registry.metrics.storeCorrupt, { kind: 'manifest' })).toBe(1);
  });

  it('a corrupt cached blob: the first pull is cut and quarantines it, the next pull refetches it from upstream', async () => {
    const url = `${mirror.url}/v2/library/heal/blobs/${layer.digest}`;
    const cut = await download(url, layer.digest);
    expect(cut.complete && cut.intact).toBe(false);
    expect(cut.bytes).toBeLessThan(layer.bytes.length);
    await waitFor('quarantine', async () => (await metricValue(mirror.registry.metrics.storeCorrupt, { kind: 'blob' })) === 1);
    expect(existsSync(blobPath(dataDir, layer.digest))).toBe(false);
    const before = hub.count({ server: 'blobs', pathIncludes: layer.digest });
    const healed = await download(url, layer.digest);
    expect(healed).toEqual({ status: 200, bytes: layer.bytes.length, complete: true, intact: true });
    expect(hub.count({ server: 'blobs', pathIncludes: layer.digest })).toBe(before + 1);
    await waitForCachedBlobs(dataDir, [layer.digest]);
    expect(await metricValue(mirror.registry.metrics.storeCorrupt, { kind: 'blob' })).toBe(1);
  });
});
