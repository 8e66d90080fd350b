import { access, readFile } from 'node:fs/promises';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { OCI_MANIFEST, blobPath, errorCode, imageManifest, pushImage, putManifest, sha256, type PushedImage } from '../../helpers/push.js';
import { startRegistry, type RunningRegistry } from '../../helpers/registry.js';

async function tagsOf(url: string, repo: string): Promise<string[]> {
  const res = await fetch(`${url}/v2/${repo}/tags/list`);
  return ((await res.json()) as { tags: string[] }).tags;
}

describe('content management: DELETE', () => {
  let reg: RunningRegistry;
  const repo = 'acme/deletes';
  let image: PushedImage;

  beforeAll(async () => {
    reg = await startRegistry();
    image = await pushImage(reg.url, repo, 'keep', { seed: 'del' });
  });
  afterAll(async () => {
    await reg.close();
  });

  it('DELETE by tag removes only that tag; the manifest and other tags stay', async () => {
    expect((await putManifest(reg.url, repo, 'a', image.body, OCI_MANIFEST)).status).toBe(201);
    expect((await putManifest(reg.url, repo, 'b', image.body, OCI_MANIFEST)).status).toBe(201);
    const del = await fetch(`${reg.url}/v2/${repo}/manifests/a`, { method: 'DELETE' });
    expect(del.status).toBe(202);
    const gone = await fetch(`${reg.url}/v2/${repo}/manifests/a`);
    expect(gone.status).toBe(404);
    expect(await errorCode(gone)).toBe('MANIFEST_UNKNOWN');
    expect((await fetch(`${reg.url}/v2/${repo}/manifests/b`)).status).toBe(200);
    expect((await fetch(`${reg.url}/v2/${repo}/manifests/${image.manifest.digest}`)).status).toBe(200);
    expect(await tagsOf(reg.url, repo)).toEqual(['b', 'keep']);
    const again = await fetch(`${reg.url}/v2/${repo}/manifests/a`, { method: 'DELETE' });
    expect(again.status).toBe(404);
    expect(await errorCode(again)).toBe('MANIFEST_UNKNOWN');
  });

  it('DELETE by digest removes the manifest and every tag pointing at it, but not other manifests', async () => {
    const other = imageManifest(image.config, image.layers, { annotations: { other: '1' } });
    expect((await putManifest(reg.url, repo, 'other', other, OCI_MANIFEST)).status).toBe(201);
    const victim = imageManifest(image.config, image.layers, { annotations: { victim: '1' } });
    const d = sha256(victim);
    expect((await putManifest(reg.url, repo, 'x1', victim, OCI_MANIFEST)).status).toBe(201);
    expect((await putManifest(reg.url, repo, 'x2', victim, OCI_MANIFEST)).status).toBe(201);

    const del = await fetch(`${reg.url}/v2/${repo}/manifests/${d}`, { method: 'DELETE' });
    expect(del.status).toBe(202);
    for (const ref of [d, 'x1', 'x2']) {
      const res = await fetch(`${reg.url}/v2/${repo}/manifests/${ref}`);
      expect(res.status, ref).toBe(404);
      expect(await errorCode(res)).toBe('MANIFEST_UNKNOWN');
      expect((await fetch(`${reg.url}/v2/${repo}/manifests/${ref}`, { method: 'HEAD' })).status).toBe(404);
    }
    expect(await tagsOf(reg.url, repo)).not.toContain('x1');
    expect(await tagsOf(reg.url, repo)).not.toContain('x2');
    expect((await fetch(`${reg.url}/v2/${repo}/manifests/other`)).status).toBe(200);
    // Layers stay: other manifests use them.
    expect((await fetch(`${reg.url}/v2/${repo}/blobs/${image.layers[0]!.digest}`, { method: 'HEAD' })).status).toBe(200);
    const again = await fetch(`${reg.url}/v2/${repo}/manifests/${d}`, { method: 'DELETE' });
    expect(again.status).toBe(404);
    expect(await errorCode(again)).toBe('MANIFEST_UNKNOWN');
  });

  it('a manifest can be pushed again after being deleted', async () => {
    const body = imageManifest(image.config, image.layers, { annotations: { phoenix: '1' } });
    expect((await putManifest(reg.url, repo, 'phoenix', body, OCI_MANIFEST)).status).toBe(201);
    expect((await fetch(`${reg.url}/v2/${repo}/manifests/${sha256(body)}`, { method: 'DELETE' })).status).toBe(202);
    expect((await putManifest(reg.url, repo, 'phoenix', body, OCI_MANIFEST)).status).toBe(201);
    const got = await fetch(`${reg.url}/v2/${repo}/manifests/phoenix`);
    expect(got.status).toBe(200);
    expect(Buffer.from(await got.arrayBuffer())).toEqual(body);
  });

  it('DELETE of an unknown blob is 404 BLOB_UNKNOWN; a malformed digest is DIGEST_INVALID', async () => {
    const res = await fetch(`${reg.url}/v2/${repo}/blobs/${sha256('never')}`, { method: 'DELETE' });
    expect(res.status).toBe(404);
    expect(await errorCode(res)).toBe('BLOB_UNKNOWN');
    const bad = await fetch(`${reg.url}/v2/${repo}/blobs/sha256:short`, { method: 'DELETE' });
    expect(bad.status).toBe(400);
    expect(await errorCode(bad)).toBe('DIGEST_INVALID');
  });
});

describe('DELETE with storage.deleteEnabled=false', () => {
  let reg: RunningRegistry;
  let image: PushedImage;
  const repo = 'acme/nodelete';

  beforeAll(async () => {
    reg = await startRegistry({ storage: { deleteEnabled: false } });
    image = await pushImage(reg.url, repo, 'v1', { seed: 'nodelete' });
  });
  afterAll(async () => {
    await reg.close();
  });

  it.each([
    ['a manifest by tag', () => `/v2/${repo}/manifests/v1`],
    ['a manifest by digest', () => `/v2/${repo}/manifests/${image.manifest.digest}`],
    ['a blob', () => `/v2/${repo}/blobs/${image.layers[0]!.digest}`],
  ])('DELETE of %s is 405 UNSUPPORTED and changes nothing', async (_label, path) => {
    const res = await fetch(`${reg.url}${path()}`, { method: 'DELETE' });
    expect(res.status).toBe(405);
    expect(await errorCode(res)).toBe('UNSUPPORTED');
    expect((await fetch(`${reg.url}${path()}`, { method: 'HEAD' })).status).toBe(200);
    expect((await fetch(`${reg.url}/v2/${repo}/manifests/v1`, { method: 'HEAD' })).status).toBe(200);
    await access(blobPath(reg.dataDir, image.manifest.digest));
    expect(await readFile(blobPath(reg.dataDir, image.layers[0]!.digest), 'utf8')).toBe('layer of nodelete');
  });

  it('cancelling an upload is still allowed', async () => {
    const start = await fetch(`${reg.url}/v2/${repo}/blobs/uploads/`, { method: 'POST' });
    const res = await fetch(new URL(start.headers.get('location')!, reg.url), { method: 'DELETE' });
    expect(res.status).toBe(204);
  });
});
