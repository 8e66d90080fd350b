import { request } from 'node:http';
import { Readable } from 'node:stream';
import { afterEach, describe, expect, it } from 'vitest';
import { FsMetadataIndex } from '../../../src/metadata/fs-metadata-index.js';
import { parseDigest } from '../../../src/oci/digest.js';
import { FsBlobStore } from '../../../src/storage/fs-blob-store.js';
import { Layout } from '../../../src/storage/layout.js';
import { parseMetrics, scrape, seriesKey, type Samples } from '../../helpers/metrics.js';
import { makeImage, pushPreparedImage } from '../../helpers/push-image.js';
import { sha256 } from '../../helpers/push.js';
import { startRegistry, type RunningRegistry } from '../../helpers/registry.js';

const cleanups: Array<() => Promise<void>> = [];
afterEach(async () => {
  while (cleanups.length) await cleanups.pop()!();
});
async function start(): Promise<RunningRegistry> {
  const reg = await startRegistry({ metrics: { storeScanIntervalSeconds: 0 } });
  cleanups.push(() => reg.close());
  return reg;
}
async function metrics(reg: RunningRegistry): Promise<Samples> {
  return parseMetrics(await scrape(`${reg.url}/metrics`));
}
function store(samples: Samples, origin: string): { blobs: number | undefined; bytes: number | undefined } {
  return { blobs: samples.get(seriesKey('registry_store_blobs', { origin })), bytes: samples.get(seriesKey('registry_store_bytes', { origin })) };
}

describe('store metrics', () => {
  it('counts blobs and bytes by origin: hosted, cached (linked only from mirrored repositories), unreferenced', async () => {
    const reg = await start();
    expect(store(await metrics(reg), 'hosted')).toEqual({ blobs: 0, bytes: 0 });

    const image = makeImage('store/app', 'v1', [1000, 3000]);
    await pushPreparedImage(reg.url, image);
    const imageBytes = image.blobs.reduce((n, b) => n + b.data.length, 0) + image.manifest.length;
    let samples = await metrics(reg);
    expect(store(samples, 'hosted')).toEqual({ blobs: 4, bytes: imageBytes });
    expect(store(samples, 'cached')).toEqual({ blobs: 0, bytes: 0 });

    // What the mirror writes: content in the shared blob store, linked with origin 'cached'.
    const layout = new Layout(reg.dataDir);
    const blobs = new FsBlobStore(layout);
    const index = new FsMetadataIndex(layout);
    const cachedOnly = Buffer.from('cached layer bytes');
    const d = parseDigest(sha256(cachedOnly));
    await blobs.put(Readable.from([cachedOnly]), d);
    await index.linkBlob('docker.io/library/alpine', d, 'cached');
    // A pushed blob that a mirror also cached stays hosted (evicting the cache must not remove it).
    await index.linkBlob('docker.io/library/alpine', parseDigest(image.blobs[1]!.digest), 'cached');
    samples = await metrics(reg);
    expect(store(samples, 'cached')).toEqual({ blobs: 1, bytes: cachedOnly.length });
    expect(store(samples, 'hosted')).toEqual({ blobs: 4, bytes: imageBytes });

    // Deleting the only link leaves the bytes on disk for GC: unreferenced.
    const lone = Buffer.from('lone blob');
    const post = await fetch(`${reg.url}/v2/store/lone/blobs/uploads/?digest=${sha256(lone)}`, { method: 'POST', body: lone });
    expect(post.status).toBe(201);
    expect((await fetch(`${reg.url}/v2/store/lone/blobs/${sha256(lone)}`, { method: 'DELETE' })).status).toBe(202);
    samples = await metrics(reg);
    expect(store(samples, 'unreferenced')).toEqual({ blobs: 1, bytes: lone.length });
    expect(samples.get('registry_store_filesystem_size_bytes')).toBeGreaterThan(0);
    expect(samples.get('registry_store_filesystem_avail_bytes')).toBeGreaterThan(0);
  });

  it('reuses a scan for storeScanIntervalSeconds', async () => {
    const reg = await startRegistry({ metrics: { storeScanIntervalSeconds: 3600 } });
    cleanups.push(() => reg.close());
    expect(store(await metrics(reg), 'hosted').blobs).toBe(0);
    await pushPreparedImage(reg.url, makeImage('store/later', 'v1', [10]));
    expect(store(await metrics(reg), 'hosted').blobs).toBe(0);
  });

  it('tracks uploads in progress', async () => {
    const reg = await start();
    const locations: string[] = [];
    for (let i = 0; i < 3; i++) {
      const res = await fetch(`${reg.url}/v2/store/uploads/blobs/uploads/`, { method: 'POST' });
      locations.push(new URL(res.headers.get('location')!, reg.url).toString());
    }
    expect((await metrics(reg)).get('registry_uploads_in_progress')).toBe(3);
    await fetch(locations[0]!, { method: 'DELETE' });
    const data = Buffer.from('finished');
    await fetch(`${locations[1]}?digest=${sha256(data)}`, { method: 'PUT', body: data });
    expect((await metrics(reg)).get('registry_uploads_in_progress')).toBe(1);
  });

  it('counts upload failures by reason (error code), not access denials or other routes', async () => {
    const reg = await start();
    const base = `${reg.url}/v2/store/fail/blobs/uploads/`;
    const data = Buffer.from('some bytes');
    const wrong = sha256('other bytes');

    // Monolithic upload with the wrong digest.
    expect((await fetch(`${base}?digest=${wrong}`, { method: 'POST', body: data })).status).toBe(400);
    // Session finished with the wrong digest.
    const session = new URL((await fetch(base, { method: 'POST' })).headers.get('location')!, reg.url).toString();
    expect((await fetch(`${session}?digest=${wrong}`, { method: 'PUT', body: data })).status).toBe(400);
    // A chunk at the wrong offset.
    const second = new URL((await fetch(base, { method: 'POST' })).headers.get('location')!, reg.url).toString();
    const patch = await fetch(second, { method: 'PATCH', headers: { 'content-range': '5-14', 'content-type': 'application/octet-stream' }, body: data });
    expect(patch.status).toBe(416);
    // An upload id that does not exist.
    expect((await fetch(`${base}3f1b8a4e-1c2d-4e5f-8a9b-0c1d2e3f4a5b?digest=${sha256(data)}`, { method: 'PUT', body: data })).status).toBe(404);
    // Not upload failures: a manifest PUT that fails, a GET of an unknown upload.
    await fetch(`${reg.url}/v2/store/fail/manifests/v1`, { method: 'PUT', headers: { 'content-type': 'application/vnd.oci.image.manifest.v1+json' }, body: '{}' });
    await fetch(`${base}3f1b8a4e-1c2d-4e5f-8a9b-0c1d2e3f4a5b`);

    const samples = await metrics(reg);
    expect(samples.get(seriesKey('registry_upload_failures_total', { reason: 'DIGEST_INVALID' }))).toBe(2);
    expect(samples.get(seriesKey('registry_upload_failures_total', { reason: 'RANGE_INVALID' }))).toBe(1);
    expect(samples.get(seriesKey('registry_upload_failures_total', { reason: 'BLOB_UPLOAD_UNKNOWN' }))).toBe(1);
    expect([...samples.keys()].filter((k) => k.startsWith('registry_upload_failures_total'))).toHaveLength(3);
  });

  it('counts a client hanging up mid-upload as a failure', async () => {
    const reg = await start();
    const location = new URL((await fetch(`${reg.url}/v2/store/abort/blobs/uploads/`, { method: 'POST' })).headers.get('location')!, reg.url);
    await new Promise<void>((resolve) => {
      const req = request(location, { method: 'PATCH', headers: { 'content-type': 'application/octet-stream', 'content-length': '100000' } });
      req.on('error', () => resolve());
      req.write(Buffer.alloc(1000));
      setTimeout(() => {
        req.destroy();
        resolve();
      }, 100);
    });
    let failures: number | undefined;
    for (let i = 0; i < 50 && !failures; i++) {
      await new Promise((r) => setTimeout(r, 20));
      const samples = await metrics(reg);
      failures = [...samples].filter(([k]) => k.startsWith('registry_upload_failures_total')).reduce((n, [, v]) => n + v, 0);
    }
    expect(failures).toBe(1);
    const samples = await metrics(reg);
    expect(samples.get(seriesKey('registry_http_received_bytes_total', { route: '/v2/:name/blobs/uploads/:uuid' }))).toBe(1000);
  });
});
