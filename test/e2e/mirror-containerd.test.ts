import { mkdir, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startContainerd, type RunningContainerd } from '../helpers/containerd.js';
import { FakeHub } from '../helpers/fake-hub.js';
import { metricValue } from '../helpers/metric-value.js';
import { startMirror, waitForCachedBlobs } from '../helpers/mirror.js';
import { OciLayout, type BuiltIndex } from '../helpers/oci-layout.js';
import { tmpDir, type RunningRegistry } from '../helpers/registry.js';

describe('containerd (ctr images pull --hosts-dir) with a hosts.toml mirror for docker.io', () => {
  let hub: FakeHub;
  let mirror: RunningRegistry;
  let containerd: RunningContainerd;
  let work: string;
  let hostsDir: string;
  let built: BuiltIndex;

  beforeAll(async () => {
    hub = await FakeHub.start();
    work = await tmpDir('ctr-e2e-');
    const layout = await OciLayout.create(join(work, 'layout'));
    // A multi-arch index: containerd resolves the index, then fetches its platform's manifest.
    built = await layout.addIndex({ layerSizes: [1024 * 1024, 30_000], seed: 'ctr-e2e' });
    await hub.addFromLayout(layout.dir, 'library/alpinex', built.index.digest, '1');
    mirror = await startMirror(hub.url);
    hostsDir = join(work, 'hosts');
    await mkdir(join(hostsDir, 'docker.io'), { recursive: true });
    await writeFile(
      join(hostsDir, 'docker.io', 'hosts.toml'),
      ['server = "https://registry-1.docker.io"', '', `[host."http://${mirror.host}"]`, '  capabilities = ["pull", "resolve"]', ''].join('\n'),
    );
    containerd = await startContainerd();
  });
  afterAll(async () => {
    await containerd?.close();
    await mirror?.close();
    await hub?.stop();
    if (work) await rm(work, { recursive: true, force: true });
  });

  const pull = async () => {
    const r = await containerd.ctr(['images', 'pull', '--hosts-dir', hostsDir, '--snapshotter', 'native', '--platform', 'linux/amd64', 'docker.io/library/alpinex:1']);
    if (r.code !== 0) throw new Error(`ctr pull failed:\n${r.stderr}\n${r.stdout}\ncontainerd:\n${containerd.output()}`);
    return r;
  };

  it('pulls through the mirror (ns=docker.io), then again from the cache alone', async () => {
    await pull();
    const list = await containerd.ctr(['images', 'ls', '-q']);
    expect(list.stdout).toContain('docker.io/library/alpinex:1');
    const amd64 = built.images.find((i) => i.manifest.platform?.architecture === 'amd64')!;
    for (const l of amd64.layers) expect(hub.count({ server: 'blobs', method: 'GET', path: `/data/${l.digest}` })).toBe(1);
    // containerd resolves with HEAD ?ns=docker.io: the cache holds it under docker.io/library/alpinex.
    const catalog = (await (await fetch(`${mirror.url}/v2/_catalog`)).json()) as { repositories: string[] };
    expect(catalog.repositories).toEqual(['docker.io/library/alpinex']);

    // Remove image and content so the next pull fetches every blob again — from the cache.
    await containerd.ctr(['images', 'rm', '--sync', 'docker.io/library/alpinex:1']);
    const content = await containerd.ctr(['content', 'ls', '-q']);
    for (const d of content.stdout.split('\n').filter((x) => x.startsWith('sha256:'))) await containerd.ctr(['content', 'rm', d]);
    await waitForCachedBlobs(mirror.dataDir, [amd64.config.digest, ...amd64.layers.map((l) => l.digest)]);
    const before = hub.requests.length;
    const hits = await metricValue(mirror.registry.metrics.cacheHits, { kind: 'blob' });
    await pull();
    expect(hub.requests.length).toBe(before);
    // config + layers of the amd64 image, each served from the cache
    expect(await metricValue(mirror.registry.metrics.cacheHits, { kind: 'blob' })).toBe(hits + 1 + amd64.layers.length);
  });
});
