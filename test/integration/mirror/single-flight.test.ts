import { randomBytes } from 'node:crypto';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { FakeHub } from '../../helpers/fake-hub.js';
import { startMirror } from '../../helpers/mirror.js';
import { OCI_MANIFEST, sha256 } from '../../helpers/push.js';
import type { RunningRegistry } from '../../helpers/registry.js';


describe('single-flight fills', () => {
  let hub: FakeHub;
  let mirror: RunningRegistry;

  beforeAll(async () => {
    hub = await FakeHub.start();
    // Slow enough (64 KiB every 3 ms) that every client arrives while the one download is running.
    hub.faults.blobChunkDelayMs = 3;
    mirror = await startMirror(hub.url);
  });
  afterAll(async () => {
    await mirror?.close();
    await hub?.stop();
  });

  const blobFile = (d: string) => join(mirror.dataDir, 'blobs', 'sha256', d.slice(7, 9), d.slice(7));

  it('16 concurrent clients on one cold blob cause exactly one upstream blob fetch', async () => {
    const bytes = randomBytes(6 * 1024 * 1024);
    const digest = hub.addBlob(bytes);
    const bodies = await Promise.all(
      Array.from({ length: 16 }, async () => {
        const res = await fetch(`${mirror.url}/v2/library/big/blobs/${digest}`);
        expect(res.status).toBe(200);
        expect(Number(res.headers.get('content-length'))).toBe(bytes.length);
        return Buffer.from(await res.arrayBuffer());
      }),
    );
    for (const body of bodies) expect(sha256(body)).toBe(digest);
    expect(hub.count({ server: 'blobs', method: 'GET', path: `/data/${digest}` })).toBe(1);
    // Clients get the last byte once the digest is verified; the rename into the store follows.
    await waitFor(() => existsSync(blobFile(digest)));
  });

  it('16 concurrent clients on one cold tag cause one upstream manifest fetch', async () => {
    const config = hub.addBlob(Buffer.from('{}'));
    const manifest = Buffer.from(JSON.stringify({ schemaVersion: 2, mediaType: OCI_MANIFEST, config: { mediaType: 'application/vnd.oci.image.config.v1+json', digest: config, size: 2 }, layers: [] }));
    const digest = hub.addManifest('library/tagged', OCI_MANIFEST, manifest, 'v1');
    const answers = await Promise.all(Array.from({ length: 16 }, () => fetch(`${mirror.url}/v2/library/tagged/manifests/v1`)));
    for (const res of answers) {
      expect(res.status).toBe(200);
      expect(res.headers.get('docker-content-digest')).toBe(digest);
      await res.arrayBuffer();
    }
    const fetched = hub.requests.filter((r) => r.method === 'GET' && r.path === '/v2/library/tagged/manifests/v1' && r.authorization !== undefined);
    expect(fetched).toHaveLength(1);
  });

  it('a range request joins a running fill and gets its slice', async () => {
    const bytes = randomBytes(2 * 1024 * 1024);
    const digest = hub.addBlob(bytes);
    const [whole, part] = await Promise.all([
      fetch(`${mirror.url}/v2/library/ranged/blobs/${digest}`).then(async (r) => Buffer.from(await r.arrayBuffer())),
      fetch(`${mirror.url}/v2/library/ranged/blobs/${digest}`, { headers: { range: 'bytes=1000000-1000099' } }).then(async (r) => {
        expect(r.status).toBe(206);
        return Buffer.from(await r.arrayBuffer());
      }),
    ]);
    expect(sha256(whole)).toBe(digest);
    expect(part.equals(bytes.subarray(1_000_000, 1_000_100))).toBe(true);
    expect(hub.count({ server: 'blobs', method: 'GET', path: `/data/${digest}` })).toBe(1);
  });

  it('the fill continues when the first client hangs up', async () => {
    const bytes = randomBytes(3 * 1024 * 1024);
    const digest = hub.addBlob(bytes);
    const abort = new AbortController();
    const res = await fetch(`${mirror.url}/v2/library/quitter/blobs/${digest}`, { signal: abort.signal });
    const reader = res.body!.getReader();
    await reader.read();
    abort.abort();
    await reader.cancel().catch(() => undefined);
    await waitFor(() => existsSync(blobFile(digest)));
    const again = await fetch(`${mirror.url}/v2/library/quitter/blobs/${digest}`);
    expect(sha256(Buffer.from(await again.arrayBuffer()))).toBe(digest);
    expect(hub.count({ server: 'blobs', method: 'GET', path: `/data/${digest}` })).toBe(1);
  });
});


describe('per-upstream concurrency', () => {
  it('maxConcurrency bounds the transfers in flight to one upstream (p-queue)', async () => {
    const hub = await FakeHub.start();
    hub.faults.blobChunkDelayMs = 2;
    const mirror = await startMirror(hub.url, { maxConcurrency: 2 });
    try {
      const digests = Array.from({ length: 6 }, () => hub.addBlob(randomBytes(512 * 1024)));
      const results = await Promise.all(digests.map(async (d) => sha256(Buffer.from(await (await fetch(`${mirror.url}/v2/library/many/blobs/${d}`)).arrayBuffer()))));
      expect(results).toEqual(digests);
      expect(hub.maxBlobsInFlight).toBe(2);
    } finally {
      await mirror.close();
      await hub.stop();
    }
  });
});

async function waitFor(check: () => boolean, ms = 10_000): Promise<void> {
  const deadline = Date.now() + ms;
  while (!check() && Date.now() < deadline) await new Promise((r) => setTimeout(r, 20));
  expect(check()).toBe(true);
}
