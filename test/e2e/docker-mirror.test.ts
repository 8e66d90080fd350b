import { readFile, rm } from 'node:fs/promises';
import { join } from 'node:path';
import { parse } from 'yaml';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { seedCredentials } from '../helpers/auth.js';
import { startDockerd, type RunningDockerd } from '../helpers/dockerd.js';
import { FakeHub } from '../helpers/fake-hub.js';
import { waitForCachedBlobs } from '../helpers/mirror.js';
import { OciLayout, type BuiltImage, type BuiltIndex } from '../helpers/oci-layout.js';
import { startRegistry, tmpDir, type RunningRegistry } from '../helpers/registry.js';

/**
 * Docker's own daemon (Debian's dockerd 20.10, a private instance) against our registry configured
 * exactly as the README's recipe "One registry as Docker Hub mirror and private registry" says: the
 * recipe's YAML and daemon.json are read from README.md, with only the addresses replaced (the fake
 * Docker Hub on loopback for registry-1.docker.io, our port for mirror.example:5000). One dockerd for
 * the whole file: it starts in seconds, and every scenario below runs against the same daemon.
 */

const RECIPE = '## One registry as Docker Hub mirror and private registry';
const CI_PASSWORD = 'ci-password-for-the-e2e';
const ADMIN_PASSWORD = 'admin-password-for-the-e2e';

async function readRecipe(): Promise<{ config: Record<string, unknown>; daemonJson: string }> {
  const readme = await readFile(new URL('../../README.md', import.meta.url), 'utf8');
  const start = readme.indexOf(RECIPE);
  if (start < 0) throw new Error(`README.md has no section "${RECIPE}"`);
  const section = readme.slice(start, readme.indexOf('\n## ', start + RECIPE.length));
  const block = (lang: string) => {
    const m = new RegExp('```' + lang + '\\n([\\s\\S]*?)```').exec(section);
    if (!m) throw new Error(`the recipe has no ${lang} block`);
    return m[1]!;
  };
  return { config: parse(block('yaml')) as Record<string, unknown>, daemonJson: block('json') };
}

function dockerArch(): string {
  return process.arch === 'x64' ? 'amd64' : process.arch;
}

describe('Docker daemon with our registry as registry-mirrors entry and private registry (README recipe)', () => {
  let hub: FakeHub;
  let registry: RunningRegistry;
  let dockerd: RunningDockerd;
  let work: string;
  let alpinex: BuiltImage;
  let multix: BuiltIndex;

  beforeAll(async () => {
    hub = await FakeHub.start();
    work = await tmpDir('docker-e2e-');
    const layout = await OciLayout.create(join(work, 'layout'));
    alpinex = await layout.addImage({ layerSizes: [300_000, 20_000], seed: 'docker-e2e-alpinex' });
    multix = await layout.addIndex({ layerSizes: [50_000], seed: 'docker-e2e-multix' });
    await hub.addFromLayout(layout.dir, 'library/alpinex', alpinex.manifest.digest, 'latest');
    await hub.addFromLayout(layout.dir, 'library/multix', multix.index.digest, 'latest');

    const { config, daemonJson } = await readRecipe();
    const upstreams = config.upstreams as Array<Record<string, unknown>>;
    expect(upstreams[0]!.url).toBe('https://registry-1.docker.io');
    upstreams[0]!.url = hub.url;
    // startRegistry gives it a fresh data folder and a free port on 127.0.0.1.
    delete config.server;
    delete config.storage;
    // Beside the recipe's user: an admin who may push anywhere, to see what a push to a mirrored name says.
    const dataDir = await tmpDir('docker-e2e-data-');
    await seedCredentials(dataDir, [{ name: 'admin', password: ADMIN_PASSWORD, access: [{ namespace: '*', scopes: ['read', 'write', 'delete'] }] }]);
    registry = await startRegistry(config, { env: { CI_PASSWORD }, dataDir });
    dockerd = await startDockerd(JSON.parse(daemonJson.replaceAll('mirror.example:5000', registry.host)) as Record<string, unknown>);
  });
  afterAll(async () => {
    await dockerd?.close();
    await registry?.close();
    await hub?.stop();
    if (work) await rm(work, { recursive: true, force: true });
  });

  const inspect = async (ref: string, format: string) => (await dockerd.mustDocker(['image', 'inspect', '--format', format, ref])).stdout.trim();
  const blobFetches = () => hub.count({ server: 'blobs' }) + hub.count({ server: 'hub', pathIncludes: '/blobs/' });

  it('docker pull of a short name comes through the mirror (anonymous: mirrored content is public)', async () => {
    await dockerd.mustDocker(['pull', 'alpinex']);
    expect(await inspect('alpinex', '{{.Id}}')).toBe(alpinex.config.digest);
    // The mirror fetched it from the upstream: Docker itself cannot reach registry-1.docker.io here.
    expect(hub.count({ server: 'hub', method: 'GET', path: `/v2/library/alpinex/manifests/latest` })).toBeGreaterThan(0);
    for (const l of alpinex.layers) expect(hub.count({ server: 'blobs', method: 'GET', path: `/data/${l.digest}` })).toBe(1);
  });

  it('docker pull of a multi-arch image picks the platform from the index', async () => {
    await dockerd.mustDocker(['pull', 'multix']);
    expect(await inspect('multix', '{{.Os}}/{{.Architecture}}')).toBe(`linux/${dockerArch()}`);
    await dockerd.mustDocker(['pull', '--platform', 'linux/arm64', 'multix']);
    expect(await inspect('multix', '{{.Architecture}}')).toBe('arm64');
    const arm64 = multix.images.find((i) => i.manifest.platform?.architecture === 'arm64')!;
    expect(await inspect('multix', '{{.Id}}')).toBe(arm64.config.digest);
  });

  it('after docker rmi, a pull is served from the cache: no upstream blob request', async () => {
    await waitForCachedBlobs(registry.dataDir, [alpinex.config.digest, ...alpinex.layers.map((l) => l.digest)]);
    await dockerd.mustDocker(['rmi', 'alpinex']);
    expect((await dockerd.docker(['image', 'inspect', 'alpinex'])).code).not.toBe(0);
    const before = blobFetches();
    await dockerd.mustDocker(['pull', 'alpinex']);
    expect(await inspect('alpinex', '{{.Id}}')).toBe(alpinex.config.digest);
    expect(blobFetches()).toBe(before);
  });

  it('docker login, push and pull of a private image on the same address; a missing tag asks no upstream', async () => {
    const before = hub.requests.length;
    const image = `${registry.host}/acme/app:1`;
    await dockerd.mustDocker(['login', registry.host, '-u', 'ci', '--password-stdin'], { input: CI_PASSWORD });
    await dockerd.mustDocker(['tag', 'alpinex', image]);
    await dockerd.mustDocker(['push', image]);
    // Gone locally (both names), so the pull downloads every layer from our registry.
    await dockerd.mustDocker(['rmi', image, 'alpinex']);
    await dockerd.mustDocker(['pull', image]);
    expect(await inspect(image, '{{.Id}}')).toBe(alpinex.config.digest);

    // acme/app:2 does not exist: by our address and through the mirror (where dockerd then tries Docker Hub
    // itself, unreachable here), and not one request reaches the upstream.
    const missing = await dockerd.docker(['pull', `${registry.host}/acme/app:2`]);
    expect(missing.code).not.toBe(0);
    expect(missing.stderr).toMatch(/manifest unknown|not found/i);
    expect((await dockerd.docker(['pull', 'acme/app:2'], { timeoutMs: 120_000 })).code).not.toBe(0);
    expect(hub.requests.slice(before)).toEqual([]);
  });

  it('after docker logout, an anonymous pull of the private image is refused', async () => {
    const image = `${registry.host}/acme/app:1`;
    await dockerd.mustDocker(['logout', registry.host]);
    await dockerd.mustDocker(['rmi', image]);
    const r = await dockerd.docker(['pull', image]);
    expect(r.code).not.toBe(0);
    expect(r.stderr).toMatch(/unauthorized|denied|authentication required/i);
  });

  it('a push to a mirrored name is refused, and docker shows which settings would allow it', async () => {
    const image = `${registry.host}/other/app:1`;
    await dockerd.mustDocker(['login', registry.host, '-u', 'admin', '--password-stdin'], { input: ADMIN_PASSWORD });
    await dockerd.mustDocker(['pull', 'alpinex']);
    await dockerd.mustDocker(['tag', 'alpinex', image]);
    const r = await dockerd.docker(['push', image]);
    await dockerd.mustDocker(['logout', registry.host]);
    expect(r.code).not.toBe(0);
    expect(r.stderr).toContain("add 'other/' to hostedNamespaces");
    expect(r.stderr).toContain('allowHostedShadow: true');
  });
});
