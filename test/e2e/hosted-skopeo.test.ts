import { randomBytes } from 'node:crypto';
import { mkdir, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Podman, recordRequests, Skopeo, type LoggedRequest } from '../helpers/clients.js';
import { layoutRef, OciLayout, type BuiltImage, type BuiltIndex } from '../helpers/oci-layout.js';
import { DOCKER_MANIFEST, OCI_INDEX, OCI_MANIFEST, sha256 } from '../helpers/push.js';
import { startRegistry, type RunningRegistry } from '../helpers/registry.js';
import { CommandError } from '../helpers/run-tool.js';

/**
 * Real clients against the hosted registry over loopback. Images come from OCI layouts built here
 * (no network); "identical" means same manifest digests and the same bytes for every blob.
 */

const NO_TLS = '--tls-verify=false';

let reg: RunningRegistry;
let skopeo: Skopeo;
let work: string;
let src: OciLayout;
let image: BuiltImage;
let multi: BuiltIndex;
let requests: LoggedRequest[];

const docker = (repo: string) => `docker://${reg.host}/${repo}`;

async function getManifest(repo: string, ref: string, accept: string): Promise<{ status: number; type: string | null; digest: string | null; body: Buffer }> {
  const res = await fetch(`${reg.url}/v2/${repo}/manifests/${ref}`, { headers: { accept } });
  return { status: res.status, type: res.headers.get('content-type'), digest: res.headers.get('docker-content-digest'), body: Buffer.from(await res.arrayBuffer()) };
}

async function getBlob(repo: string, digest: string): Promise<Buffer> {
  const res = await fetch(`${reg.url}/v2/${repo}/blobs/${digest}`);
  expect(res.status).toBe(200);
  return Buffer.from(await res.arrayBuffer());
}

/** Every blob of `img` in layout `dir` has the same bytes as in the source layout. */
async function expectSameBlobs(dir: string, img: BuiltImage): Promise<void> {
  for (const d of [img.manifest, img.config, ...img.layers]) {
    const copy = await readFile(join(dir, 'blobs', 'sha256', d.digest.slice('sha256:'.length)));
    expect(sha256(copy)).toBe(d.digest);
    expect(copy.equals(await src.readBlob(d.digest))).toBe(true);
  }
}

beforeAll(async () => {
  // Lowercase only: podman names an image pulled from oci:DIR after DIR, and references must be lowercase.
  work = join(tmpdir(), `e2e-skopeo-${randomBytes(4).toString('hex')}`);
  await mkdir(work);
  src = await OciLayout.create(join(work, 'src'));
  // Layer sizes: tiny, a few chunks, and one big enough to take several PATCH-sized writes.
  image = await src.addImage({ layerSizes: [2048, 300_000, 3 * 1024 * 1024], seed: 'e2e-image' }, 'v1');
  multi = await src.addIndex({ layerSizes: [4096, 200_000], seed: 'e2e-multi' }, 'multi');
  await src.finish();
  reg = await startRegistry();
  requests = recordRequests(reg.server);
  skopeo = await Skopeo.create();
});

afterAll(async () => {
  await reg?.close();
  await skopeo?.close();
  if (work) await rm(work, { recursive: true, force: true });
});

describe('skopeo against the hosted registry', () => {
  it('copies an OCI image into a multi-level repository and back, byte-identical', async () => {
    await skopeo.run(['copy', '--preserve-digests', `--dest-tls-verify=false`, src.reference('v1'), docker('myorg/team/app:1.0')]);

    const stored = await getManifest('myorg/team/app', '1.0', OCI_MANIFEST);
    expect(stored.status).toBe(200);
    expect(stored.type).toBe(OCI_MANIFEST);
    expect(stored.digest).toBe(image.manifest.digest);
    expect(stored.body.equals(await src.readBlob(image.manifest.digest))).toBe(true);
    for (const layer of image.layers) expect((await getBlob('myorg/team/app', layer.digest)).equals(await src.readBlob(layer.digest))).toBe(true);

    const back = join(work, 'back');
    await skopeo.run(['copy', '--src-tls-verify=false', docker('myorg/team/app:1.0'), `oci:${back}:pulled`]);
    expect((await layoutRef(back, 'pulled')).digest).toBe(image.manifest.digest);
    await expectSameBlobs(back, image);
  });

  it('inspects the image: digest, layers, tags, raw manifest and config', async () => {
    const info = await skopeo.json<{ Name: string; Digest: string; RepoTags: string[]; Layers: string[]; Architecture: string; Os: string }>(
      ['inspect', NO_TLS, docker('myorg/team/app:1.0')],
    );
    expect(info.Name).toBe(`${reg.host}/myorg/team/app`);
    expect(info.Digest).toBe(image.manifest.digest);
    expect(info.Layers).toEqual(image.layers.map((l) => l.digest));
    expect(info.RepoTags).toContain('1.0');
    expect([info.Os, info.Architecture]).toEqual(['linux', 'amd64']);

    const raw = (await skopeo.run(['inspect', NO_TLS, '--raw', docker('myorg/team/app:1.0')])).stdout;
    expect(sha256(Buffer.from(raw))).toBe(image.manifest.digest);
    const config = (await skopeo.run(['inspect', NO_TLS, '--config', '--raw', docker('myorg/team/app:1.0')])).stdout;
    expect(sha256(Buffer.from(config))).toBe(image.config.digest);
  });

  it('lists tags in lexical order', async () => {
    await skopeo.run(['copy', '--src-tls-verify=false', '--dest-tls-verify=false', docker('myorg/team/app:1.0'), docker('myorg/team/app:latest')]);
    await skopeo.run(['copy', '--src-tls-verify=false', '--dest-tls-verify=false', docker('myorg/team/app:1.0'), docker('myorg/team/app:0.9')]);
    const tags = await skopeo.json<{ Repository: string; Tags: string[] }>(['list-tags', NO_TLS, docker('myorg/team/app')]);
    expect(tags.Repository).toBe(`${reg.host}/myorg/team/app`);
    expect(tags.Tags).toEqual(['0.9', '1.0', 'latest']);
  });

  it('deletes an image: its tag is gone, other tags stay', async () => {
    await skopeo.run(['copy', '--preserve-digests', '--dest-tls-verify=false', src.reference('v1'), docker('myorg/del/app:gone')]);
    await skopeo.run(['copy', '--all', '--preserve-digests', '--dest-tls-verify=false', src.reference('multi'), docker('myorg/del/app:stays')]);
    // skopeo resolves the tag and deletes the manifest by digest, as the spec's DELETE does.
    await skopeo.run(['delete', NO_TLS, docker('myorg/del/app:gone')]);

    const tags = await skopeo.json<{ Tags: string[] }>(['list-tags', NO_TLS, docker('myorg/del/app')]);
    expect(tags.Tags).toEqual(['stays']);
    expect((await getManifest('myorg/del/app', image.manifest.digest, OCI_MANIFEST)).status).toBe(404);
    const err = await skopeo.run(['inspect', NO_TLS, docker('myorg/del/app:gone')]).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(CommandError);
    expect((err as CommandError).stderr).toMatch(/manifest unknown/i);
    // The other repository holding the same image is untouched.
    expect((await getManifest('myorg/team/app', '1.0', OCI_MANIFEST)).status).toBe(200);
  });

  it('pushes a multi-arch index with --all and pulls it back identical', async () => {
    await skopeo.run(['copy', '--all', '--preserve-digests', '--dest-tls-verify=false', src.reference('multi'), docker('myorg/team/multi:1')]);
    const index = await getManifest('myorg/team/multi', '1', `${OCI_INDEX}, ${OCI_MANIFEST}`);
    expect(index.type).toBe(OCI_INDEX);
    expect(index.digest).toBe(multi.index.digest);
    expect(index.body.equals(await src.readBlob(multi.index.digest))).toBe(true);

    const back = join(work, 'multi-back');
    await skopeo.run(['copy', '--all', '--src-tls-verify=false', docker('myorg/team/multi:1'), `oci:${back}:all`]);
    expect((await layoutRef(back, 'all')).digest).toBe(multi.index.digest);
    for (const img of multi.images) await expectSameBlobs(back, img);

    // A single-platform pull picks the arm64 child out of the index.
    const arm = join(work, 'arm');
    await skopeo.run(['--override-arch', 'arm64', 'copy', '--src-tls-verify=false', docker('myorg/team/multi:1'), `oci:${arm}:arm`]);
    expect((await layoutRef(arm, 'arm')).digest).toBe(multi.images[1]!.manifest.digest);
  });

  it('mounts blobs across repositories instead of uploading them again', async () => {
    const before = requests.length;
    await skopeo.run(['copy', '--src-tls-verify=false', '--dest-tls-verify=false', docker('myorg/team/app:1.0'), docker('myorg/other/app:1.0')]);
    const seen = requests.slice(before).filter((r) => r.url.startsWith('/v2/myorg/other/app/blobs/uploads/'));
    const query = (r: LoggedRequest) => new URL(r.url, reg.url).searchParams;
    // containers/image remembers which repository it saw each blob in and asks the registry to mount it from there
    // (the source may be any repository of this registry that holds the layer, e.g. myorg/team/app).
    const mounted = seen.filter((r) => r.method === 'POST' && query(r).has('from') && r.status === 201).map((r) => query(r).get('mount'));
    const uploaded = seen.filter((r) => r.method === 'PUT').map((r) => query(r).get('digest'));
    for (const layer of image.layers) {
      expect(mounted).toContain(layer.digest);
      expect(uploaded).not.toContain(layer.digest);
    }
    expect((await getManifest('myorg/other/app', '1.0', OCI_MANIFEST)).digest).toBe(image.manifest.digest);
    for (const layer of image.layers) expect((await getBlob('myorg/other/app', layer.digest)).length).toBe(layer.size);

    // The same thing by hand: 201 with the blob's location; a source without the blob falls back to an upload (202).
    const layer = image.layers[2]!.digest;
    const byHand = await fetch(`${reg.url}/v2/myorg/third/app/blobs/uploads/?mount=${layer}&from=myorg/team/app`, { method: 'POST' });
    expect(byHand.status).toBe(201);
    expect(byHand.headers.get('docker-content-digest')).toBe(layer);
    expect(byHand.headers.get('location')).toBe(`/v2/myorg/third/app/blobs/${layer}`);
    const fallback = await fetch(`${reg.url}/v2/myorg/fourth/app/blobs/uploads/?mount=${layer}&from=myorg/nothere`, { method: 'POST' });
    expect(fallback.status).toBe(202);
    expect(fallback.headers.get('location')).toMatch(/^\/v2\/myorg\/fourth\/app\/blobs\/uploads\/.+/);
  });

  it('round-trips a Docker v2 schema 2 image (--format v2s2)', async () => {
    await skopeo.run(['copy', '--format', 'v2s2', '--dest-tls-verify=false', src.reference('v1'), docker('myorg/team/docker:1')]);
    const stored = await getManifest('myorg/team/docker', '1', `${DOCKER_MANIFEST}, ${OCI_MANIFEST}`);
    expect(stored.type).toBe(DOCKER_MANIFEST);
    expect(stored.digest).toBe(sha256(stored.body));
    const manifest = JSON.parse(stored.body.toString()) as { mediaType: string; layers: Array<{ digest: string; mediaType: string }> };
    expect(manifest.mediaType).toBe(DOCKER_MANIFEST);
    // The conversion changes media types only: the gzip layers are the same bytes.
    expect(manifest.layers.map((l) => l.digest)).toEqual(image.layers.map((l) => l.digest));

    const dir = join(work, 'v2s2-dir');
    await skopeo.run(['copy', '--src-tls-verify=false', docker('myorg/team/docker:1'), `dir:${dir}`]);
    expect((await readFile(join(dir, 'manifest.json'))).equals(stored.body)).toBe(true);
    for (const layer of image.layers) {
      expect((await readFile(join(dir, layer.digest.slice(7)))).equals(await src.readBlob(layer.digest))).toBe(true);
    }
    // Back up from the dir copy under another tag: same manifest digest, so nothing was rewritten on the way.
    await skopeo.run(['copy', '--preserve-digests', '--dest-tls-verify=false', `dir:${dir}`, docker('myorg/team/docker:again')]);
    expect((await getManifest('myorg/team/docker', 'again', DOCKER_MANIFEST)).digest).toBe(stored.digest);
  });
});

// podman is installed by test/setup/install-tools.sh: a missing podman is a failed setup, not a skip.
describe('podman against the hosted registry', () => {
  let podman: Podman;
  beforeAll(async () => {
    podman = await Podman.create();
  });
  afterAll(async () => {
    await podman?.close();
  });

  it('pushes a local image and pulls it back with the same image id and layers', async () => {
    await podman.run(['pull', '--signature-policy', podman.policyPath(), src.reference('v1')]);
    const local = `localhost${src.dir}:latest`;
    const ref = `${reg.host}/myorg/podman/app:1`;
    await podman.run(['push', '--tls-verify=false', '--signature-policy', podman.policyPath(), local, `docker://${ref}`]);
    await podman.run(['rmi', '--all', '--force']);
    await podman.run(['pull', '--tls-verify=false', '--signature-policy', podman.policyPath(), ref]);
    const [inspected] = JSON.parse((await podman.run(['image', 'inspect', ref])).stdout) as Array<{ Id: string; RootFS: { Layers: string[] } }>;
    // The image id is the config digest; podman may recompress layers on push, but the diff_ids must survive.
    expect(`sha256:${inspected!.Id}`).toBe(image.config.digest);
    expect(inspected!.RootFS.Layers).toEqual(image.layers.map((l) => l.diffId));
    const pushed = await getManifest('myorg/podman/app', '1', `${OCI_MANIFEST}, ${DOCKER_MANIFEST}`);
    expect(pushed.status).toBe(200);
  });
});
