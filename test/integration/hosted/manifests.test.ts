import { readFile } from 'node:fs/promises';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  DOCKER_FOREIGN,
  DOCKER_LIST,
  DOCKER_MANIFEST,
  OCI_CONFIG,
  OCI_EMPTY,
  OCI_INDEX,
  OCI_MANIFEST,
  blobPath,
  errorCode,
  imageManifest,
  indexManifest,
  listFiles,
  pushBlob,
  pushImage,
  putManifest,
  sha256,
  sha512,
  type PushedImage,
} from '../../helpers/push.js';
import { startRegistry, type RunningRegistry } from '../../helpers/registry.js';

describe('manifests', () => {
  let reg: RunningRegistry;
  let image: PushedImage;
  const repo = 'acme/manifests';

  beforeAll(async () => {
    reg = await startRegistry({ storage: { maxManifestBytes: 64 * 1024 } });
    image = await pushImage(reg.url, repo, 'v1', { seed: 'm1' });
  });
  afterAll(async () => {
    await reg.close();
  });

  describe('pull', () => {
    it.each(['v1', 'digest'])('GET by %s returns the stored bytes with exact headers', async (which) => {
      const ref = which === 'digest' ? image.manifest.digest : 'v1';
      const res = await fetch(`${reg.url}/v2/${repo}/manifests/${ref}`, { headers: { Accept: OCI_MANIFEST } });
      expect(res.status).toBe(200);
      expect(res.headers.get('content-type')).toBe(OCI_MANIFEST);
      expect(res.headers.get('docker-content-digest')).toBe(image.manifest.digest);
      expect(res.headers.get('content-length')).toBe(String(image.body.length));
      expect(Buffer.from(await res.arrayBuffer())).toEqual(image.body);
    });

    it.each(['v1', 'digest'])('HEAD by %s has the same headers and no body', async (which) => {
      const ref = which === 'digest' ? image.manifest.digest : 'v1';
      const res = await fetch(`${reg.url}/v2/${repo}/manifests/${ref}`, { method: 'HEAD' });
      expect(res.status).toBe(200);
      expect(res.headers.get('content-type')).toBe(OCI_MANIFEST);
      expect(res.headers.get('docker-content-digest')).toBe(image.manifest.digest);
      expect(res.headers.get('content-length')).toBe(String(image.body.length));
      expect((await res.arrayBuffer()).byteLength).toBe(0);
    });

    it('stores the manifest bytes by digest on disk', async () => {
      expect(await readFile(blobPath(reg.dataDir, image.manifest.digest))).toEqual(image.body);
    });

    it('unknown tag and unknown digest are 404 MANIFEST_UNKNOWN (HEAD without a body)', async () => {
      const tag = await fetch(`${reg.url}/v2/${repo}/manifests/nope`);
      expect(tag.status).toBe(404);
      expect(await errorCode(tag)).toBe('MANIFEST_UNKNOWN');
      const dig = await fetch(`${reg.url}/v2/${repo}/manifests/${sha256('absent')}`);
      expect(dig.status).toBe(404);
      expect(await errorCode(dig)).toBe('MANIFEST_UNKNOWN');
      const head = await fetch(`${reg.url}/v2/${repo}/manifests/nope`, { method: 'HEAD' });
      expect(head.status).toBe(404);
      expect(await head.text()).toBe('');
    });

    it('a manifest of another repository is not visible here', async () => {
      const res = await fetch(`${reg.url}/v2/acme/other/manifests/${image.manifest.digest}`);
      expect(res.status).toBe(404);
      expect(await errorCode(res)).toBe('MANIFEST_UNKNOWN');
    });
  });

  describe('Accept negotiation', () => {
    let index: Buffer;
    beforeAll(async () => {
      index = indexManifest([{ ...image.manifest, platform: { os: 'linux', architecture: 'amd64' } }]);
      expect((await putManifest(reg.url, repo, 'multi', index, OCI_INDEX)).status).toBe(201);
    });

    it('serves the index to a client that accepts it (among others, with q-values)', async () => {
      const res = await fetch(`${reg.url}/v2/${repo}/manifests/multi`, {
        headers: { Accept: `${DOCKER_MANIFEST}, ${OCI_MANIFEST};q=0.9, ${OCI_INDEX};q=0.5` },
      });
      expect(res.status).toBe(200);
      expect(res.headers.get('content-type')).toBe(OCI_INDEX);
      expect(Buffer.from(await res.arrayBuffer())).toEqual(index);
    });

    it('serves it when Accept is absent or a wildcard', async () => {
      for (const headers of [{}, { Accept: '*/*' }] as Array<Record<string, string>>) {
        const res = await fetch(`${reg.url}/v2/${repo}/manifests/multi`, { headers });
        expect(res.status).toBe(200);
        expect(res.headers.get('content-type')).toBe(OCI_INDEX);
      }
    });

    it('refuses an index to a client that only accepts image manifests', async () => {
      const res = await fetch(`${reg.url}/v2/${repo}/manifests/multi`, { headers: { Accept: `${OCI_MANIFEST}, ${DOCKER_MANIFEST}` } });
      expect(res.status).toBe(404);
      expect(await errorCode(res)).toBe('MANIFEST_UNKNOWN');
      const head = await fetch(`${reg.url}/v2/${repo}/manifests/multi`, { method: 'HEAD', headers: { Accept: DOCKER_MANIFEST } });
      expect(head.status).toBe(404);
    });
  });

  describe('push', () => {
    it('PUT by tag: 201 with Location and Docker-Content-Digest; the tag then resolves', async () => {
      const body = imageManifest(image.config, image.layers, { annotations: { v: '2' } });
      const res = await putManifest(reg.url, repo, 'v2', body, OCI_MANIFEST);
      expect(res.status).toBe(201);
      expect(res.headers.get('docker-content-digest')).toBe(sha256(body));
      expect(res.headers.get('location')).toBe(`/v2/${repo}/manifests/${sha256(body)}`);
      const got = await fetch(`${reg.url}/v2/${repo}/manifests/v2`);
      expect(got.headers.get('docker-content-digest')).toBe(sha256(body));
    });

    it('PUT by tag moves an existing tag to the new manifest', async () => {
      const a = imageManifest(image.config, image.layers, { annotations: { which: 'a' } });
      const b = imageManifest(image.config, image.layers, { annotations: { which: 'b' } });
      expect((await putManifest(reg.url, repo, 'moving', a, OCI_MANIFEST)).status).toBe(201);
      expect((await putManifest(reg.url, repo, 'moving', b, OCI_MANIFEST)).status).toBe(201);
      const got = await fetch(`${reg.url}/v2/${repo}/manifests/moving`);
      expect(Buffer.from(await got.arrayBuffer())).toEqual(b);
      // The old manifest is still there by digest.
      expect((await fetch(`${reg.url}/v2/${repo}/manifests/${sha256(a)}`)).status).toBe(200);
    });

    it('PUT by digest stores without a tag', async () => {
      const body = imageManifest(image.config, image.layers, { annotations: { byDigest: 'yes' } });
      const res = await putManifest(reg.url, repo, sha256(body), body, OCI_MANIFEST);
      expect(res.status).toBe(201);
      expect(res.headers.get('docker-content-digest')).toBe(sha256(body));
      expect((await fetch(`${reg.url}/v2/${repo}/manifests/${sha256(body)}`)).status).toBe(200);
    });

    it('PUT by sha512 digest is stored and served under that digest', async () => {
      const body = imageManifest(image.config, image.layers, { annotations: { alg: 'sha512' } });
      const res = await putManifest(reg.url, repo, sha512(body), body, OCI_MANIFEST);
      expect(res.status).toBe(201);
      expect(res.headers.get('docker-content-digest')).toBe(sha512(body));
      const got = await fetch(`${reg.url}/v2/${repo}/manifests/${sha512(body)}`);
      expect(got.status).toBe(200);
      expect(got.headers.get('docker-content-digest')).toBe(sha512(body));
      expect(Buffer.from(await got.arrayBuffer())).toEqual(body);
    });

    it.each([
      ['sha256', sha256],
      ['sha512', sha512],
    ])('PUT by a %s digest that does not match the body is DIGEST_INVALID and stores nothing', async (_alg, hash) => {
      const body = imageManifest(image.config, image.layers, { annotations: { mismatch: _alg } });
      const wrong = hash('something else');
      const before = await listFiles(reg.dataDir);
      const res = await putManifest(reg.url, repo, wrong, body, OCI_MANIFEST);
      expect(res.status).toBe(400);
      expect(await errorCode(res)).toBe('DIGEST_INVALID');
      expect(await listFiles(reg.dataDir)).toEqual(before);
      expect((await fetch(`${reg.url}/v2/${repo}/manifests/${wrong}`)).status).toBe(404);
    });

    it('Docker v2 schema 2 and a Docker manifest list are stored with their media types', async () => {
      const docker = await pushImage(reg.url, repo, 'docker', { seed: 'docker', docker: true });
      const list = indexManifest([{ ...docker.manifest, platform: { os: 'linux', architecture: 'amd64' } }], {}, DOCKER_LIST);
      expect((await putManifest(reg.url, repo, 'dockerlist', list, DOCKER_LIST)).status).toBe(201);
      const a = await fetch(`${reg.url}/v2/${repo}/manifests/docker`, { headers: { Accept: DOCKER_MANIFEST } });
      expect(a.headers.get('content-type')).toBe(DOCKER_MANIFEST);
      expect(Buffer.from(await a.arrayBuffer())).toEqual(docker.body);
      const b = await fetch(`${reg.url}/v2/${repo}/manifests/dockerlist`, { headers: { Accept: DOCKER_LIST } });
      expect(b.headers.get('content-type')).toBe(DOCKER_LIST);
      expect(Buffer.from(await b.arrayBuffer())).toEqual(list);
    });

    it('an artifact with artifactType and the empty config is accepted', async () => {
      const empty = await pushBlob(reg.url, repo, '{}', OCI_EMPTY);
      const payload = await pushBlob(reg.url, repo, 'sbom contents', 'application/vnd.example.sbom.v1+json');
      const body = imageManifest(empty, [payload], { artifactType: 'application/vnd.example.sbom' });
      const res = await putManifest(reg.url, repo, 'sbom', body, OCI_MANIFEST);
      expect(res.status).toBe(201);
      const got = await fetch(`${reg.url}/v2/${repo}/manifests/sbom`);
      expect(Buffer.from(await got.arrayBuffer())).toEqual(body);
    });

    it('foreign (Windows) and non-distributable layers are accepted without their blobs', async () => {
      const foreign = { mediaType: DOCKER_FOREIGN, digest: sha256('windows base'), size: 12, urls: ['https://example.invalid/base.tar.gz'] };
      const config = { ...image.config, mediaType: 'application/vnd.docker.container.image.v1+json' };
      const body = imageManifest(config, [foreign, { ...image.layers[0]!, mediaType: 'application/vnd.docker.image.rootfs.diff.tar.gzip' }], {}, DOCKER_MANIFEST);
      expect((await putManifest(reg.url, repo, 'windows', body, DOCKER_MANIFEST)).status).toBe(201);
      const nondist = { mediaType: 'application/vnd.oci.image.layer.nondistributable.v1.tar+gzip', digest: sha256('nd'), size: 2 };
      const oci = imageManifest(image.config, [nondist], { annotations: { nd: '1' } });
      expect((await putManifest(reg.url, repo, 'nondist', oci, OCI_MANIFEST)).status).toBe(201);
    });

    it('a missing layer or config blob is MANIFEST_BLOB_UNKNOWN and nothing is tagged', async () => {
      const missing = { mediaType: 'application/vnd.oci.image.layer.v1.tar+gzip', digest: sha256('missing layer'), size: 13 };
      const res = await putManifest(reg.url, repo, 'broken', imageManifest(image.config, [missing]), OCI_MANIFEST);
      expect(res.status).toBe(400);
      expect(await errorCode(res)).toBe('MANIFEST_BLOB_UNKNOWN');
      const noConfig = await putManifest(reg.url, repo, 'broken', imageManifest({ ...image.config, digest: sha256('nocfg') }, image.layers), OCI_MANIFEST);
      expect(noConfig.status).toBe(400);
      expect(await errorCode(noConfig)).toBe('MANIFEST_BLOB_UNKNOWN');
      expect((await fetch(`${reg.url}/v2/${repo}/manifests/broken`)).status).toBe(404);
    });

    it('a blob present only in another repository does not count', async () => {
      const elsewhere = await pushBlob(reg.url, 'acme/elsewhere', 'only over there');
      const res = await putManifest(reg.url, repo, 'crossref', imageManifest(image.config, [elsewhere]), OCI_MANIFEST);
      expect(res.status).toBe(400);
      expect(await errorCode(res)).toBe('MANIFEST_BLOB_UNKNOWN');
    });

    it('an index whose child manifest is missing is MANIFEST_BLOB_UNKNOWN', async () => {
      const body = indexManifest([{ mediaType: OCI_MANIFEST, digest: sha256('no such child'), size: 10 }]);
      const res = await putManifest(reg.url, repo, 'badindex', body, OCI_INDEX);
      expect(res.status).toBe(400);
      expect(await errorCode(res)).toBe('MANIFEST_BLOB_UNKNOWN');
      expect((await fetch(`${reg.url}/v2/${repo}/manifests/badindex`)).status).toBe(404);
    });

    it.each([
      ['invalid JSON', Buffer.from('{"schemaVersion": 2,'), OCI_MANIFEST],
      ['a JSON array', Buffer.from('[]'), OCI_MANIFEST],
      ['no layers', Buffer.from(JSON.stringify({ schemaVersion: 2, mediaType: OCI_MANIFEST, config: { mediaType: OCI_CONFIG, digest: sha256('c'), size: 1 } })), OCI_MANIFEST],
      ['mediaType contradicting Content-Type', Buffer.from(JSON.stringify({ schemaVersion: 2, mediaType: OCI_MANIFEST, config: {}, layers: [] })), DOCKER_MANIFEST],
      ['Docker schema 1', Buffer.from(JSON.stringify({ schemaVersion: 1, name: 'x', tag: 'y', fsLayers: [], history: [] })), 'application/vnd.docker.distribution.manifest.v1+prettyjws'],
      ['an unknown media type', Buffer.from(JSON.stringify({ schemaVersion: 2, layers: [] })), 'application/x-unknown'],
      ['a bad descriptor digest', Buffer.from(JSON.stringify({ schemaVersion: 2, mediaType: OCI_MANIFEST, config: { mediaType: OCI_CONFIG, digest: 'sha256:xyz', size: 1 }, layers: [] })), OCI_MANIFEST],
    ])('%s is 400 MANIFEST_INVALID and stores nothing', async (_label, body, contentType) => {
      const before = await listFiles(reg.dataDir);
      const res = await putManifest(reg.url, repo, 'invalid', body, contentType);
      expect(res.status).toBe(400);
      expect(await errorCode(res)).toBe('MANIFEST_INVALID');
      expect(await listFiles(reg.dataDir)).toEqual(before);
    });

    it('an invalid tag in the reference is refused', async () => {
      const res = await putManifest(reg.url, repo, '-bad-tag', image.body, OCI_MANIFEST);
      expect(res.status).toBe(400);
      expect(await errorCode(res)).toBe('TAG_INVALID');
    });

    it('an oversize manifest sent chunked (no Content-Length) is 413 too', async () => {
      const chunk = Buffer.alloc(16 * 1024, 0x20);
      let sent = 0;
      const body = new ReadableStream<Uint8Array>({
        pull(controller) {
          if (sent++ === 128) return controller.close();
          controller.enqueue(chunk);
        },
      });
      const res = await fetch(`${reg.url}/v2/${repo}/manifests/chunked`, {
        method: 'PUT',
        body,
        duplex: 'half',
        headers: { 'Content-Type': OCI_MANIFEST },
      } as RequestInit & { duplex: 'half' });
      expect(res.status).toBe(413);
      expect(await errorCode(res)).toBe('SIZE_INVALID');
      // The refused body must not poison the keep-alive connection for the next request.
      await new Promise((r) => setTimeout(r, 200));
      const next = await fetch(`${reg.url}/v2/${repo}/manifests/chunked`, { signal: AbortSignal.timeout(5000) });
      expect(next.status).toBe(404);
    });

    it('a manifest over storage.maxManifestBytes is 413 with a spec error body, and nothing is stored', async () => {
      const padding = 'x'.repeat(70 * 1024);
      const body = imageManifest(image.config, image.layers, { annotations: { padding } });
      const before = await listFiles(reg.dataDir);
      const res = await putManifest(reg.url, repo, 'huge', body, OCI_MANIFEST);
      expect(res.status).toBe(413);
      expect(await errorCode(res)).toBe('SIZE_INVALID');
      expect(await listFiles(reg.dataDir)).toEqual(before);
    });
  });
});
