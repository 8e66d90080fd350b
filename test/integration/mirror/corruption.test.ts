import { randomBytes } from 'node:crypto';
import { existsSync } from 'node:fs';
import { readdir } from 'node:fs/promises';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { FakeHub } from '../../helpers/fake-hub.js';
import { metricValue } from '../../helpers/metric-value.js';
import { startMirror, waitForCachedBlobs } from '../../helpers/mirror.js';
import { sha256 } from '../../helpers/push.js';
import type { RunningRegistry } from '../../helpers/registry.js';

describe('upstream failures mid-blob leave nothing cached', () => {
  let hub: FakeHub;
  let mirror: RunningRegistry;

  beforeAll(async () => {
    hub = await FakeHub.start();
    mirror = await startMirror(hub.url);
  });
  afterAll(async () => {
    await mirror?.close();
    await hub?.stop();
  });

  const blobFile = (d: string) => join(mirror.dataDir, 'blobs', 'sha256', d.slice(7, 9), d.slice(7));
  const leftovers = async () => (await readdir(join(mirror.dataDir, 'tmp'))).filter((f) => f.endsWith('.fill'));

  /** Reads a blob through the mirror; resolves with what arrived and whether the transfer failed. */
  async function download(digest: string): Promise<{ status: number; bytes: number; failed: boolean }> {
    let res: Response;
    try {
      res = await fetch(`${mirror.url}/v2/library/broken/blobs/${digest}`);
    } catch {
      return { status: 0, bytes: -1, failed: true }; // cut before the headers went out
    }
    try {
      const body = Buffer.from(await res.arrayBuffer());
      return { status: res.status, bytes: body.length, failed: sha256(body) !== digest };
    } catch {
      return { status: res.status, bytes: -1, failed: true };
    }
  }

  it('corrupted upstream bytes: client gets an error, nothing stored, mismatch counted', async () => {
    const bytes = randomBytes(1024 * 1024);
    const digest = hub.addBlob(bytes);
    hub.faults.corrupt.add(digest);
    const result = await download(digest);
    expect(result.failed).toBe(true);
    expect(result.bytes).not.toBe(bytes.length); // the last byte is held back until the digest is verified
    expect(existsSync(blobFile(digest))).toBe(false);
    expect(await leftovers()).toEqual([]);
    expect(await metricValue(mirror.registry.metrics.upstreamDigestMismatches)).toBe(1);

    // Nothing was poisoned: once upstream is healthy the same blob is fetched again and cached.
    hub.faults.corrupt.delete(digest);
    const ok = await download(digest);
    expect(ok).toEqual({ status: 200, bytes: bytes.length, failed: false });
    await waitForCachedBlobs(mirror.dataDir, [digest]);
  });

  it('a connection cut mid-body: client gets an error, nothing stored, failure counted', async () => {
    const digest = hub.addBlob(randomBytes(1024 * 1024));
    hub.faults.cut.add(digest);
    const result = await download(digest);
    expect(result.failed).toBe(true);
    expect(existsSync(blobFile(digest))).toBe(false);
    expect(await leftovers()).toEqual([]);
    expect(await metricValue(mirror.registry.metrics.upstreamFetchFailures)).toBeGreaterThanOrEqual(1);
    hub.faults.cut.delete(digest);
  });

  it('a corrupted manifest by digest is refused and not stored', async () => {
    const body = Buffer.from(JSON.stringify({ schemaVersion: 2, mediaType: 'application/vnd.oci.image.manifest.v1+json', config: { mediaType: 'x', digest: `sha256:${'0'.repeat(64)}`, size: 0 }, layers: [] }));
    const digest = hub.addManifest('library/broken', 'application/vnd.oci.image.manifest.v1+json', body, 'latest');
    hub.faults.corrupt.add(digest);
    for (const ref of [digest, 'latest']) {
      const res = await fetch(`${mirror.url}/v2/library/broken/manifests/${ref}`);
      expect(res.status).toBe(400);
      expect(((await res.json()) as { errors: Array<{ code: string }> }).errors[0]!.code).toBe('DIGEST_INVALID');
    }
    expect(existsSync(blobFile(digest))).toBe(false);
    expect(await metricValue(mirror.registry.metrics.upstreamDigestMismatches)).toBe(3);
  });
});
