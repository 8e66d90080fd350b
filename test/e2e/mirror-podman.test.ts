import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { dockerHubMirrorConf } from '../helpers/clients.js';
import { FakeHub } from '../helpers/fake-hub.js';
import { startMirror } from '../helpers/mirror.js';
import { OciLayout, type BuiltImage } from '../helpers/oci-layout.js';
import { tmpDir, type RunningRegistry } from '../helpers/registry.js';
import { mustRun } from '../helpers/run-tool.js';

describe('podman pull with a registries.conf mirror for docker.io', () => {
  let hub: FakeHub;
  let mirror: RunningRegistry;
  let work: string;
  let runroot: string;
  let image: BuiltImage;
  let env: NodeJS.ProcessEnv;
  let podman: (...args: string[]) => Promise<string>;

  beforeAll(async () => {
    hub = await FakeHub.start();
    work = await tmpDir('podman-e2e-');
    // podman refuses a runroot path of 50 characters or more.
    runroot = await mkdtemp(join(tmpdir(), 'pr-'));
    const layout = await OciLayout.create(join(work, 'layout'));
    image = await layout.addImage({ layerSizes: [1024 * 1024, 20_000], seed: 'podman-e2e' });
    await hub.addFromLayout(layout.dir, 'library/alpinex', image.manifest.digest, '1');
    mirror = await startMirror(hub.url);
    ({ env } = await dockerHubMirrorConf(work, mirror.host, { unqualifiedSearch: true }));
    const base = ['--root', join(work, 'root'), '--runroot', runroot, '--tmpdir', join(work, 'tmp'), '--storage-driver', 'vfs', '--events-backend', 'file', '--cgroup-manager', 'cgroupfs'];
    podman = async (...args) => (await mustRun('podman', [...base, ...args], { env, timeoutMs: 180_000 })).stdout;
  });
  afterAll(async () => {
    await mirror?.close();
    await hub?.stop();
    if (work) await rm(work, { recursive: true, force: true });
    await rm(runroot, { recursive: true, force: true });
  });

  it('pulls docker.io/library/alpinex:1 from the mirror, which fetched it from the token-auth upstream', async () => {
    await podman('pull', 'docker.io/library/alpinex:1');
    const id = (await podman('images', '--format', '{{.Id}}', 'docker.io/library/alpinex:1')).trim();
    expect(id.length).toBeGreaterThan(0);
    expect(`sha256:${(await podman('inspect', '--format', '{{.Id}}', 'docker.io/library/alpinex:1')).trim()}`).toBe(image.config.digest);
    // Every blob came through the mirror from the upstream's object store, exactly once.
    for (const l of image.layers) expect(hub.count({ server: 'blobs', method: 'GET', path: `/data/${l.digest}` })).toBe(1);
    const catalog = (await (await fetch(`${mirror.url}/v2/_catalog`)).json()) as { repositories: string[] };
    expect(catalog.repositories).toContain('docker.io/library/alpinex');

    // Pulled again after removal: served from the cache, the upstream sees nothing.
    await podman('rmi', 'docker.io/library/alpinex:1');
    const before = hub.requests.length;
    await podman('pull', 'docker.io/library/alpinex:1');
    expect(hub.requests.length).toBe(before);
  });
});
