import { createHash } from 'node:crypto';
import { chmod, link, mkdir, rm, symlink, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { randomBytes } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Skopeo } from '../../helpers/clients.js';
import { startRegistry, type RunningRegistry } from '../../helpers/registry.js';
import { fileHash, tarListing, writeTarImage, type TarImage } from '../../helpers/tar-image.js';
import { modeString } from '../../../src/ui/format.js';
import { metricValue } from '../../helpers/metric-value.js';

/**
 * The Contents listing and the four checksums, against an independent computation: node:crypto over the
 * same blob files and `tar -tvf` of the same tars. The image has nested folders, symlinks, a hard link,
 * odd modes, a file over 100 MB (random bytes, so its gzip layer is that big too), an uncompressed
 * layer and a zstd layer (hashed, not listed).
 */

const BIG = 105 * 1024 * 1024;
const REPO = 'acme/tools/contents';
let reg: RunningRegistry;
let skopeo: Skopeo;
let work: string;
let image: TarImage;

interface ApiLayer {
  digest: string;
  size: number;
  state: string;
  files?: number;
  entries?: number;
  listed?: boolean;
  reason?: string;
  checksums?: Record<string, string>;
}
interface ApiImage {
  digest: string;
  checksums: Record<string, string>;
  layers: ApiLayer[];
  totalFiles?: number;
  labels: Record<string, string>;
}
interface ApiFile {
  path: string;
  type: string;
  size: number;
  mode: number;
  linkname?: string;
}

async function getJson<T>(path: string): Promise<{ status: number; body: T }> {
  const res = await fetch(`${reg.url}${path}`);
  return { status: res.status, body: (await res.json()) as T };
}

async function imageWhenListed(): Promise<ApiImage> {
  const deadline = Date.now() + 60_000;
  for (;;) {
    const { status, body } = await getJson<ApiImage>(`/api/repositories/${REPO}/-/images/v1`);
    expect(status).toBe(200);
    if (body.layers.every((l) => l.state === 'ready')) return body;
    if (Date.now() > deadline) throw new Error(`layers not listed: ${JSON.stringify(body.layers.map((l) => l.state))}`);
    await new Promise((r) => setTimeout(r, 200));
  }
}

async function allFiles(digest: string): Promise<ApiFile[]> {
  const out: ApiFile[] = [];
  for (let offset = 0; ; offset += 7) {
    // A small page size on purpose: the listing is read back in pages.
    const { status, body } = await getJson<{ items: ApiFile[]; total: number }>(`/api/repositories/${REPO}/-/layers/${digest}/files?offset=${offset}&limit=7`);
    expect(status).toBe(200);
    out.push(...body.items);
    if (body.items.length < 7) return out;
  }
}

beforeAll(async () => {
  work = join(tmpdir(), `ui-facts-${randomBytes(4).toString('hex')}`);
  const l0 = join(work, 'root0');
  const l1 = join(work, 'root1');
  const l2 = join(work, 'root2');
  const l3 = join(work, 'root3');
  await mkdir(join(l0, 'etc/app/conf.d'), { recursive: true });
  await mkdir(join(l0, 'usr/local/bin'), { recursive: true });
  await writeFile(join(l0, 'etc/app/conf.d/10-default.conf'), 'key = value\n');
  await writeFile(join(l0, 'etc/app/app.toml'), 'name = "app"\n');
  await writeFile(join(l0, 'usr/local/bin/tool'), '#!/bin/sh\necho tool\n');
  await chmod(join(l0, 'usr/local/bin/tool'), 0o755);
  await writeFile(join(l0, 'etc/app/secret.key'), 'k');
  await chmod(join(l0, 'etc/app/secret.key'), 0o600);
  await symlink('app/app.toml', join(l0, 'etc/app.toml'));
  await symlink('/usr/local/bin/tool', join(l0, 'usr/local/bin/tool-link'));
  await link(join(l0, 'etc/app/app.toml'), join(l0, 'etc/app/hard.toml'));
  await writeFile(join(l0, 'file with spaces & <angle>.txt'), 'odd name\n');
  await mkdir(join(l1, 'data/big'), { recursive: true });
  await writeFile(join(l1, 'data/big/blob.bin'), randomBytes(BIG));
  await mkdir(join(l2, 'opt/a/b/c/d'), { recursive: true });
  await writeFile(join(l2, 'opt/a/b/c/d/deep.txt'), 'deep\n');
  await mkdir(join(l3, 'zst'), { recursive: true });
  await writeFile(join(l3, 'zst/file.txt'), 'zstd layer\n');
  image = await writeTarImage(join(work, 'layout'), work, 'v1', {
    layers: [
      { dir: l0, compression: 'gzip' },
      { dir: l1, compression: 'gzip' },
      { dir: l2, compression: 'none' },
      { dir: l3, compression: 'zstd' },
    ],
    labels: { 'org.opencontainers.image.description': 'contents test' },
  });
  reg = await startRegistry();
  skopeo = await Skopeo.create();
  await skopeo.run(['copy', '--preserve-digests', '--dest-tls-verify=false', `oci:${join(work, 'layout')}:v1`, `docker://${reg.host}/${REPO}:v1`], 180_000);
}, 240_000);

afterAll(async () => {
  await reg?.close();
  await skopeo?.close();
  if (work) await rm(work, { recursive: true, force: true });
});

describe('layer contents and checksums', () => {
  it('lists each tar layer exactly as tar -tv does, reading it back in pages', async () => {
    const view = await imageWhenListed();
    expect(view.layers.map((l) => l.digest)).toEqual(image.layers.map((l) => l.digest));
    for (const [i, layer] of image.layers.entries()) {
      const api = view.layers[i]!;
      if (layer.mediaType.endsWith('zstd')) {
        expect(api.listed).toBe(false);
        expect(api.reason).toMatch(/zstd/);
        continue;
      }
      expect(api.listed).toBe(true);
      const expected = await tarListing(layer.tarPath);
      const files = await allFiles(layer.digest);
      expect(files.length).toBe(expected.length);
      expect(api.entries).toBe(expected.length);
      expect(api.files).toBe(expected.filter((e) => !e.mode.startsWith('d')).length);
      expect(files.map((f) => ({ mode: modeString(f.type, f.mode), size: f.size, path: f.path, link: f.linkname }))).toEqual(
        expected.map((e) => ({ mode: e.mode, size: e.size, path: e.path, link: e.link })),
      );
    }
    // The big file is there with its size, the symlinks with their targets.
    const big = (await allFiles(image.layers[1]!.digest)).find((f) => f.path === 'data/big/blob.bin');
    expect(big).toMatchObject({ type: 'file', size: BIG });
    const first = await allFiles(image.layers[0]!.digest);
    expect(first.find((f) => f.path === 'etc/app.toml')).toMatchObject({ type: 'symlink', linkname: 'app/app.toml' });
    expect(first.find((f) => f.path === 'etc/app/hard.toml')).toMatchObject({ type: 'link' });
    expect(view.totalFiles).toBe(view.layers.reduce((a, l) => a + (l.files ?? 0), 0));
  });

  it('has the MD5, SHA1, SHA256 and SHA512 of every layer and of the manifest, as node:crypto computes them', async () => {
    const view = await imageWhenListed();
    for (const [i, layer] of image.layers.entries()) {
      for (const alg of ['md5', 'sha1', 'sha256', 'sha512']) expect(view.layers[i]!.checksums![alg]).toBe(await fileHash(layer.blobPath, alg));
      expect(`sha256:${view.layers[i]!.checksums!.sha256}`).toBe(layer.digest);
    }
    for (const alg of ['md5', 'sha1', 'sha256', 'sha512']) expect(view.checksums[alg]).toBe(createHash(alg).update(image.manifest).digest('hex'));
    expect(view.digest).toBe(image.manifestDigest);
  });

  it('computed the facts once and stored them: a second registry on the same data answers at once', async () => {
    // Three tar layers listed, the zstd one hashed only; each read once however often the page was asked for.
    expect(await metricValue(reg.registry.metrics.uiLayerAnalyses, { result: 'listed' })).toBe(3);
    expect(await metricValue(reg.registry.metrics.uiLayerAnalyses, { result: 'unlisted' })).toBe(1);
    const again = await startRegistry({}, { dataDir: reg.dataDir, keepData: true });
    try {
      const res = await fetch(`${again.url}/api/repositories/${REPO}/-/images/v1`);
      const body = (await res.json()) as ApiImage;
      expect(body.layers.every((l) => l.state === 'ready')).toBe(true);
    } finally {
      await again.close();
    }
  });

  it('answers 404 for a layer of another repository and for a malformed digest', async () => {
    expect((await fetch(`${reg.url}/api/repositories/${REPO}/-/layers/sha256:${'0'.repeat(64)}/files`)).status).toBe(404);
    expect((await fetch(`${reg.url}/api/repositories/${REPO}/-/layers/nope/files`)).status).toBe(404);
    expect((await fetch(`${reg.url}/api/repositories/acme/other/-/layers/${image.layers[0]!.digest}/files`)).status).toBe(404);
  });
});
