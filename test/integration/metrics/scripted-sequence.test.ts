import { rm } from 'node:fs/promises';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { StoreUsageScanner } from '../../../src/metadata/store-usage.js';
import { systemClock } from '../../../src/oci/types.js';
import { Layout } from '../../../src/storage/layout.js';
import { basic, seedCredentials } from '../../helpers/auth.js';
import { FakeHub } from '../../helpers/fake-hub.js';
import { metricValue } from '../../helpers/metric-value.js';
import { deltas, histogramCount, parseMetrics, promtool, scrape, seriesKey as k, until } from '../../helpers/metrics.js';
import { makeImage, pullImage, pushPreparedImage } from '../../helpers/push-image.js';
import { OCI_MANIFEST, sha256 } from '../../helpers/push.js';
import { startRegistry, tmpDir, type RunningRegistry } from '../../helpers/registry.js';

/**
 * Issue 5's scripted sequence against the real registry (access control on, a Docker-Hub-like
 * upstream mirrored under docker.io/): scrape, push an image, pull it twice, pull a mirrored image
 * cold then warm, one failed login, one corrupted upstream blob (plus one failed upload), scrape
 * again, and assert the exact change of every registry_ series. Histogram _bucket/_sum series depend
 * on timing and are left out (their _count is exact and checked), as is free disk space (other
 * processes share the disk). Upstream figures are cross-checked against the fake hub's own log.
 */

const MANIFEST = '/v2/:name/manifests/:reference';
const BLOB = '/v2/:name/blobs/:digest';
const UPLOAD_START = '/v2/:name/blobs/uploads/';
const UPLOAD = '/v2/:name/blobs/uploads/:uuid';
const MIRRORED = 'docker.io/library/alpine';

let hub: FakeHub;
let reg: RunningRegistry;
let dataDir: string;
const alice = { authorization: basic('alice', 'alice-password') };

beforeAll(async () => {
  hub = await FakeHub.start();
  dataDir = await tmpDir('scripted-');
  await seedCredentials(dataDir, [{ name: 'alice', password: 'alice-password', access: [{ namespace: 'acme', scopes: ['read', 'write'] }] }]);
  reg = await startRegistry(
    {
      metrics: { storeScanIntervalSeconds: 0 },
      upstreams: [{ name: 'hub', url: hub.url, prefix: 'docker.io/', dockerHub: true }],
      // Mirrored content is anonymous-read (a cluster mirror); acme/ is private.
      auth: { enabled: true, reloadSeconds: 0, mirrorVisibility: 'public' },
    },
    { dataDir, keepData: true },
  );
});
afterAll(async () => {
  await reg?.close();
  await hub?.stop();
  if (dataDir) await rm(dataDir, { recursive: true, force: true });
});

async function snapshot(): Promise<{ samples: Map<string, number>; bytes: number; text: string }> {
  const text = await scrape(`${reg.url}/metrics`);
  return { samples: parseMetrics(text), bytes: Buffer.byteLength(text), text };
}

function exactDeltas(before: Map<string, number>, after: Map<string, number>): Record<string, number> {
  const out: Record<string, number> = {};
  for (const [key, d] of deltas(before, after, 'registry_')) {
    if (/_bucket\{|_sum(\{|$)/.test(key) || key.startsWith('registry_store_filesystem_')) continue;
    out[key] = d;
  }
  return out;
}

/** Requests counted by method/route/status, with their duration observations. */
function requests(method: string, route: string, status: number, n: number): Record<string, number> {
  return {
    [k('registry_http_requests_total', { method, route, status: String(status) })]: n,
    [k('registry_http_request_duration_seconds_count', { method, route })]: n,
  };
}

/** Sums entries that share a series (e.g. the duration count of one route answered with two statuses). */
function merge(...parts: Array<Record<string, number>>): Record<string, number> {
  const out: Record<string, number> = {};
  for (const part of parts) for (const [key, n] of Object.entries(part)) out[key] = (out[key] ?? 0) + n;
  return out;
}

const bytesOf = (blobs: Array<{ data: Buffer }>) => blobs.reduce((n, b) => n + b.data.length, 0);

describe('scripted sequence', () => {
  it('push, pull twice, mirrored pull cold then warm, a failed login, a corrupted upstream blob: exact metric deltas', async () => {
    const hosted = makeImage('acme/app', 'v1', [1000, 3000]);
    const upstream = makeImage('library/alpine', 'latest', [2000, 5000]);
    for (const b of upstream.blobs) hub.addBlob(b.data);
    hub.addManifest('library/alpine', OCI_MANIFEST, upstream.manifest, 'latest');
    const broken = Buffer.alloc(3000, 7); // the mirror's tee sends all but the held-back last byte, then cuts
    const brokenDigest = hub.addBlob(broken);
    hub.faults.corrupt.add(brokenDigest);

    const before = await snapshot();

    // 1. Push (Basic credentials on every request, as skopeo --creds does): 3 × (POST + PUT) + manifest PUT.
    await pushPreparedImage(reg.url, hosted, alice);
    // 2. Pull it twice: manifest + 3 blobs each.
    for (let i = 0; i < 2; i++) expect((await pullImage(reg.url, hosted.repo, hosted.tag, alice)).blobs.map(sha256)).toEqual(hosted.blobs.map((b) => b.digest));
    // 3. Mirrored image, cold: everything from upstream (token dance, 307 to the blob store).
    expect((await pullImage(reg.url, MIRRORED, 'latest')).blobs.map(sha256)).toEqual(upstream.blobs.map((b) => b.digest));
    const scanner = new StoreUsageScanner(new Layout(dataDir), systemClock);
    // Clients get a blob's last byte once it is verified; commit and link follow a moment later.
    await until('the cold fills to be committed', async () => {
      const cached = (await scanner.snapshot(0)).blobs.cached.count;
      return cached === 4 && (await histogramCount(reg.registry.metrics.upstreamDuration, { kind: 'blob' })) === 3;
    });
    const upstreamCallsCold = hub.requests.length;
    // 4. Warm: nothing asked of the upstream.
    await pullImage(reg.url, MIRRORED, 'latest');
    expect(hub.requests.length).toBe(upstreamCallsCold);
    // 5. One failed login at the token endpoint.
    const login = await fetch(`${reg.url}/token?service=registry&scope=repository:acme/app:pull`, { headers: { authorization: basic('alice', 'wrong') } });
    expect(login.status).toBe(401);
    const loginBody = await login.text();
    // 6. One corrupted upstream blob: the client's transfer fails, nothing is cached.
    const corrupted = await fetch(`${reg.url}/v2/docker.io/library/broken/blobs/${brokenDigest}`)
      .then((res) => res.arrayBuffer().then((b) => sha256(Buffer.from(b)) === brokenDigest))
      .catch(() => false);
    expect(corrupted).toBe(false);
    await until('the mismatch to be counted', async () => (await metricValue(reg.registry.metrics.upstreamDigestMismatches)) === 1);
    // 7. One failed upload: bytes that do not match the digest given.
    const bad = Buffer.from('bytes that do not match');
    const failedUpload = await fetch(`${reg.url}/v2/acme/app/blobs/uploads/?digest=${sha256('other')}`, { method: 'POST', headers: alice, body: bad });
    expect(failedUpload.status).toBe(400);
    const failedUploadBody = await failedUpload.text();

    const after = await snapshot();
    const hostedBytes = bytesOf(hosted.blobs);
    const upstreamBytes = bytesOf(upstream.blobs);
    expect(exactDeltas(before.samples, after.samples)).toEqual(
      merge(
        // HTTP
        requests('POST', UPLOAD_START, 202, 3),
        requests('PUT', UPLOAD, 201, 3),
        requests('PUT', MANIFEST, 201, 1),
        requests('GET', MANIFEST, 200, 2 + 1 + 1), // hosted ×2, mirrored cold + warm
        requests('GET', BLOB, 200, 6 + 3 + 3 + 1), // …and the corrupted blob: headers went out before the bytes failed
        requests('GET', '/token', 401, 1),
        requests('POST', UPLOAD_START, 400, 1),
        requests('GET', '/metrics', 200, 1), // the first scrape, seen by the second
        {
          [k('registry_http_received_bytes_total', { route: UPLOAD })]: hostedBytes,
          [k('registry_http_received_bytes_total', { route: MANIFEST })]: hosted.manifest.length,
          [k('registry_http_received_bytes_total', { route: UPLOAD_START })]: bad.length,
          [k('registry_http_sent_bytes_total', { route: MANIFEST })]: 2 * hosted.manifest.length + 2 * upstream.manifest.length,
          [k('registry_http_sent_bytes_total', { route: BLOB })]: 2 * hostedBytes + 2 * upstreamBytes + broken.length - 1,
          [k('registry_http_sent_bytes_total', { route: '/token' })]: Buffer.byteLength(loginBody),
          [k('registry_http_sent_bytes_total', { route: UPLOAD_START })]: Buffer.byteLength(failedUploadBody),
          [k('registry_http_sent_bytes_total', { route: '/metrics' })]: before.bytes,
        },
        // Cache: the tag and 3 blobs missed cold and hit warm; the corrupted blob missed.
        {
          [k('registry_cache_misses_total', { kind: 'manifest', upstream: 'hub' })]: 1,
          [k('registry_cache_misses_total', { kind: 'blob', upstream: 'hub' })]: 3 + 1,
          [k('registry_cache_hits_total', { kind: 'manifest', upstream: 'hub' })]: 1,
          [k('registry_cache_hits_total', { kind: 'blob', upstream: 'hub' })]: 3,
        },
        // Upstream: manifest 401 (no token yet) then 200, 3 blobs 200 (the 307 is followed inside one request),
        // the corrupted blob 200; one token per scope (library/alpine, library/broken).
        {
          [k('registry_upstream_requests_total', { upstream: 'hub', status: '401' })]: 1,
          [k('registry_upstream_requests_total', { upstream: 'hub', status: '200' })]: 1 + 3 + 1,
          [k('registry_upstream_fetch_duration_seconds_count', { upstream: 'hub', kind: 'token' })]: 2,
          [k('registry_upstream_fetch_duration_seconds_count', { upstream: 'hub', kind: 'manifest' })]: 1,
          [k('registry_upstream_fetch_duration_seconds_count', { upstream: 'hub', kind: 'blob' })]: 3 + 1,
          [k('registry_upstream_fetched_bytes_total', { upstream: 'hub' })]: upstream.manifest.length + upstreamBytes + broken.length,
          [k('registry_upstream_token_fetches_total', { upstream: 'hub', result: 'ok' })]: 2,
          [k('registry_upstream_digest_mismatches_total', { upstream: 'hub' })]: 1,
          // The fake hub counts down from 100 per manifest GET; the series is new, so its delta is its value.
          [k('registry_upstream_ratelimit_remaining', { upstream: 'hub' })]: 99,
        },
        // Store: the pushed image (3 blobs + manifest) hosted, the mirrored one cached, nothing of the corrupted blob.
        {
          [k('registry_store_blobs', { origin: 'hosted' })]: 4,
          [k('registry_store_bytes', { origin: 'hosted' })]: hostedBytes + hosted.manifest.length,
          [k('registry_store_blobs', { origin: 'cached' })]: 4,
          [k('registry_store_bytes', { origin: 'cached' })]: upstreamBytes + upstream.manifest.length,
          [k('registry_upload_failures_total', { reason: 'DIGEST_INVALID' })]: 1,
          // Blobs hashed on their first whole read from the store (issue 10): the 3 hosted ones on the first
          // pull (not the second), the 3 mirrored ones on the warm pull (the cold one was verified by the fill).
          [k('registry_store_blobs_verified_total', { path: 'read' })]: 6,
        },
        // Auth: Basic credentials on each of the 7 + 8 + 1 hosted requests; the one wrong password.
        {
          [k('registry_auth_logins_total', { method: 'password', result: 'success' })]: 7 + 8 + 1,
          [k('registry_auth_logins_total', { method: 'password', result: 'failure' })]: 1,
          [k('registry_auth_denials_total', { reason: 'bad_password' })]: 1,
        },
      ),
    );

    // With every family populated (cache, upstream, auth labels too), the exposition still passes promtool's lint.
    const lint = await promtool(['check', 'metrics'], after.text);
    expect(lint.output).toBe('');
    expect(lint.code).toBe(0);

    // The same upstream traffic as the fake hub saw it.
    const tokenCalls = hub.count({ server: 'hub', path: '/token' });
    expect(tokenCalls).toBe(2);
    expect(hub.count({ server: 'hub' }) - tokenCalls).toBe(1 + 1 + 3 + 1); // = registry_upstream_requests_total
    expect(hub.count({ server: 'blobs' })).toBe(3 + 1); // the redirected blob GETs
  });
});
