import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { deltas, parseMetrics, scrape, seriesKey as k } from '../../helpers/metrics.js';
import { makeImage, pullImage, pushImage, sha256 } from '../../helpers/push-image.js';
import { startRegistry, type RunningRegistry } from '../../helpers/registry.js';

/**
 * Issue 5's scripted sequence: scrape, run a known sequence of client actions, scrape again and
 * assert the exact change of every registry_ series. Histogram _bucket/_sum series depend on timing
 * and are left out (their _count is exact and checked), as is free disk space.
 */

let reg: RunningRegistry;
beforeAll(async () => {
  reg = await startRegistry({ metrics: { storeScanIntervalSeconds: 0 } });
});
afterAll(() => reg.close());

const MANIFEST = '/v2/:name/manifests/:reference';
const BLOB = '/v2/:name/blobs/:digest';
const UPLOAD_START = '/v2/:name/blobs/uploads/';
const UPLOAD = '/v2/:name/blobs/uploads/:uuid';

async function snapshot(): Promise<{ samples: Map<string, number>; bytes: number }> {
  const text = await scrape(`${reg.url}/metrics`);
  return { samples: parseMetrics(text), bytes: Buffer.byteLength(text) };
}

/**
 * Deltas of registry_ series without the timing-dependent histogram buckets and sums, and without
 * the filesystem gauges (other processes write to the same disk).
 */
function exactDeltas(before: Map<string, number>, after: Map<string, number>): Record<string, number> {
  const out: Record<string, number> = {};
  for (const [key, d] of deltas(before, after, 'registry_')) {
    if (/_bucket\{|_sum(\{|$)/.test(key) || key.startsWith('registry_store_filesystem_')) continue;
    out[key] = d;
  }
  return out;
}

/** A request counted by method/route/status, and its duration observation. */
function requests(method: string, route: string, status: number, n: number): Record<string, number> {
  return {
    [k('registry_http_requests_total', { method, route, status: String(status) })]: n,
    [k('registry_http_request_duration_seconds_count', { method, route })]: n,
  };
}

/** Adds up request entries that share a duration series (same method and route, different status). */
function merge(...parts: Array<Record<string, number>>): Record<string, number> {
  const out: Record<string, number> = {};
  for (const part of parts) for (const [key, n] of Object.entries(part)) out[key] = (out[key] ?? 0) + n;
  return out;
}

describe('scripted sequence', () => {
  it('push an image, pull it twice, one failed upload: exact deltas of every registry_ series', async () => {
    const image = makeImage('scripted/app', 'v1', [1000, 3000]);
    const blobBytes = image.blobs.reduce((n, b) => n + b.data.length, 0);
    const before = await snapshot();

    await pushImage(reg.url, image);
    for (let i = 0; i < 2; i++) {
      const pulled = await pullImage(reg.url, image.repo, image.tag);
      expect(pulled.manifest.equals(image.manifest)).toBe(true);
    }
    const bad = Buffer.from('bytes that do not match');
    const failed = await fetch(`${reg.url}/v2/scripted/app/blobs/uploads/?digest=${sha256('something else')}`, { method: 'POST', body: bad });
    expect(failed.status).toBe(400);

    const after = await snapshot();
    expect(exactDeltas(before.samples, after.samples)).toEqual(
      merge(
        // push: per blob POST (202) + PUT (201); then the manifest PUT
        requests('POST', UPLOAD_START, 202, 3),
        requests('PUT', UPLOAD, 201, 3),
        requests('PUT', MANIFEST, 201, 1),
        // two pulls: manifest + 3 blobs each
        requests('GET', MANIFEST, 200, 2),
        requests('GET', BLOB, 200, 6),
        // the failed monolithic upload
        requests('POST', UPLOAD_START, 400, 1),
        // the first scrape, seen by the second
        requests('GET', '/metrics', 200, 1),
        {
          [k('registry_http_received_bytes_total', { route: UPLOAD })]: blobBytes,
          [k('registry_http_received_bytes_total', { route: MANIFEST })]: image.manifest.length,
          [k('registry_http_received_bytes_total', { route: UPLOAD_START })]: bad.length,
          [k('registry_http_sent_bytes_total', { route: MANIFEST })]: 2 * image.manifest.length,
          [k('registry_http_sent_bytes_total', { route: BLOB })]: 2 * blobBytes,
          [k('registry_http_sent_bytes_total', { route: UPLOAD_START })]: Number(failed.headers.get('content-length')),
          [k('registry_http_sent_bytes_total', { route: '/metrics' })]: before.bytes,
          [k('registry_upload_failures_total', { reason: 'DIGEST_INVALID' })]: 1,
          // config + 2 layers + the manifest, all pushed here
          [k('registry_store_blobs', { origin: 'hosted' })]: 4,
          [k('registry_store_bytes', { origin: 'hosted' })]: blobBytes + image.manifest.length,
        },
      ),
    );
  });
});
