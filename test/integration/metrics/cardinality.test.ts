import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { FakeHub } from '../../helpers/fake-hub.js';
import { labelValues, parseMetrics, scrape, type Samples } from '../../helpers/metrics.js';
import { makeImage, pullImage, pushPreparedImage } from '../../helpers/push-image.js';
import { OCI_MANIFEST } from '../../helpers/push.js';
import { startRegistry, type RunningRegistry } from '../../helpers/registry.js';

const REPOS = 500;
const ROUTE_PATTERNS = [
  '/v2/',
  '/v2/_catalog',
  '/v2/:name/manifests/:reference',
  '/v2/:name/blobs/uploads/',
  '/v2/:name/blobs/uploads/:uuid',
  '/v2/:name/blobs/:digest',
  '/v2/:name/tags/list',
  '/v2/:name/referrers/:digest',
  '/metrics',
  '/healthz',
  '/readyz',
  'unmatched',
];

let reg: RunningRegistry;
let hub: FakeHub;
beforeAll(async () => {
  hub = await FakeHub.start();
  reg = await startRegistry({ metrics: { storeScanIntervalSeconds: 0 }, upstreams: [{ name: 'hub', url: hub.url, prefix: 'docker.io/', dockerHub: true }] });
});
afterAll(async () => {
  await reg?.close();
  await hub?.stop();
});

/** What a client does with one repository: fill it by cross-repo mount + manifest PUT, then pull it every way. */
async function exercise(i: number, base: ReturnType<typeof makeImage>): Promise<void> {
  const repo = `cardinality/team-${i}/app-${i}`;
  for (const blob of base.blobs) {
    const mount = await fetch(`${reg.url}/v2/${repo}/blobs/uploads/?mount=${blob.digest}&from=${base.repo}`, { method: 'POST' });
    expect(mount.status).toBe(201);
  }
  const tag = `v${i}`;
  const put = await fetch(`${reg.url}/v2/${repo}/manifests/${tag}`, { method: 'PUT', headers: { 'content-type': OCI_MANIFEST }, body: base.manifest });
  expect(put.status).toBe(201);
  const requests: Array<[string, string]> = [
    ['HEAD', `/v2/${repo}/manifests/${tag}`],
    ['GET', `/v2/${repo}/manifests/${tag}`],
    ['GET', `/v2/${repo}/manifests/${base.manifestDigest}`],
    ...base.blobs.map((b): [string, string] => ['GET', `/v2/${repo}/blobs/${b.digest}`]),
    ['GET', `/v2/${repo}/tags/list`],
    ['GET', `/v2/${repo}/manifests/missing-${i}`], // 404 MANIFEST_UNKNOWN
    ['GET', `/v2/${repo}/blobs/sha256:${'0'.repeat(63)}${i % 10}`], // 404 BLOB_UNKNOWN
    ['GET', `/v2/${repo}/unknown-endpoint-${i}`], // 404, no route
    ['GET', `/random-${i}/path`], // not the registry API at all
  ];
  for (const [method, path] of requests) {
    const res = await fetch(`${reg.url}${path}`, { method });
    await res.arrayBuffer();
  }
}

/** Every label value of every registry_ series. */
function allLabelValues(samples: Samples): Set<string> {
  const values = new Set<string>();
  for (const key of samples.keys()) {
    if (!key.startsWith('registry_')) continue;
    for (const m of key.matchAll(/="((?:[^"\\]|\\.)*)"/g)) values.add(m[1]!);
  }
  return values;
}

function registrySeries(samples: Samples): Set<string> {
  return new Set([...samples.keys()].filter((k) => k.startsWith('registry_')));
}

describe('label cardinality', () => {
  it(`pulling ${REPOS} different repositories adds no label values beyond the route patterns`, async () => {
    const base = makeImage('cardinality/base', 'v1', [512]);
    await pushPreparedImage(reg.url, base);
    for (let i = 0; i < 3; i++) await exercise(i, base);
    await scrape(`${reg.url}/metrics`); // so the scrape's own /metrics series exist in both snapshots
    const early = parseMetrics(await scrape(`${reg.url}/metrics`));

    // Ten clients at a time: the point is the number of names, not their order.
    for (let i = 3; i < REPOS; i += 10) {
      await Promise.all(Array.from({ length: Math.min(10, REPOS - i) }, (_, j) => exercise(i + j, base)));
    }
    const late = parseMetrics(await scrape(`${reg.url}/metrics`));

    // The same series exist after 3 repositories and after 500: nothing grew with the names.
    expect([...registrySeries(late)].sort()).toEqual([...registrySeries(early)].sort());
    for (const key of late.keys()) expect(key).not.toMatch(/cardinality|team-|random-|missing-|sha256/);
    for (const family of ['registry_http_requests_total', 'registry_http_request_duration_seconds_count', 'registry_http_sent_bytes_total', 'registry_http_received_bytes_total']) {
      for (const route of labelValues(late, family, 'route')) expect(ROUTE_PATTERNS).toContain(route);
    }
    // And the traffic was counted: one manifest GET by tag and one by digest per repository.
    const manifestGets = late.get('registry_http_requests_total{method="GET",route="/v2/:name/manifests/:reference",status="200"}');
    expect(manifestGets).toBe(REPOS * 2);
  }, 180_000);

  it(`pulling ${REPOS} different mirrored repositories adds no label values either (cache and upstream metrics are per upstream)`, async () => {
    // One image upstream under 500 names: every name is a cold manifest; the blobs are shared.
    const image = makeImage('library/shared', 'v1', [256]);
    for (const b of image.blobs) hub.addBlob(b.data);
    for (let i = 0; i < REPOS; i++) hub.addManifest(`library/mirrored-${i}`, OCI_MANIFEST, image.manifest, 'latest');
    const pull = async (i: number) => {
      await pullImage(reg.url, `docker.io/library/mirrored-${i}`, 'latest');
      await (await fetch(`${reg.url}/v2/docker.io/library/mirrored-${i}/manifests/absent-${i}`)).arrayBuffer(); // upstream 404
    };
    for (let i = 0; i < 3; i++) await pull(i);
    await scrape(`${reg.url}/metrics`);
    const early = parseMetrics(await scrape(`${reg.url}/metrics`));
    for (let i = 3; i < REPOS; i += 10) await Promise.all(Array.from({ length: Math.min(10, REPOS - i) }, (_, j) => pull(i + j)));
    const late = parseMetrics(await scrape(`${reg.url}/metrics`));

    expect([...allLabelValues(late)].sort()).toEqual([...allLabelValues(early)].sort());
    for (const key of late.keys()) expect(key).not.toMatch(/mirrored-|absent-|library|sha256/);
    expect(late.get('registry_cache_misses_total{kind="manifest",upstream="hub"}')! - early.get('registry_cache_misses_total{kind="manifest",upstream="hub"}')!).toBe(2 * (REPOS - 3)); // latest + absent
  }, 180_000);
});
