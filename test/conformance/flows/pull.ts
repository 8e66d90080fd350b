import { beforeAll, expect, it } from 'vitest';
import type { FlowContext } from '../conformance-suite.js';
import { OCI_INDEX, OCI_MANIFEST, makeBlob, pushImage, uniqueRepo, type PushedImage } from '../content.js';
import { bytesOf, expectError, sha256 } from '../registry-client.js';

/** Spec, "Workflow Categories › Pull" (end-1, end-2, end-3). */
export function pullFlows(ctx: FlowContext): void {
  const repo = uniqueRepo('pull');
  let image: PushedImage;
  beforeAll(async () => {
    image = await pushImage(ctx.client(), repo, 'v1', 2);
  });

  it('GET /v2/ answers 200 (end-1) with Docker-Distribution-API-Version: registry/2.0', async () => {
    const res = await ctx.client().get('/v2/');
    await res.arrayBuffer();
    expect(res.status).toBe(200);
    expect(res.headers.get('docker-distribution-api-version')).toBe('registry/2.0');
  });

  it('GET a manifest by tag: 200, the pushed bytes, its Content-Type and Docker-Content-Digest', async () => {
    const res = await ctx.client().get(`/v2/${repo}/manifests/v1`, { headers: { Accept: `${OCI_MANIFEST}, ${OCI_INDEX}` } });
    expect(res.status).toBe(200);
    expect(res.headers.get('content-type')).toBe(OCI_MANIFEST);
    expect(res.headers.get('docker-content-digest')).toBe(image.manifest.descriptor.digest);
    expect((await bytesOf(res)).equals(image.manifest.body)).toBe(true);
  });

  it('GET a manifest by digest: 200 and bytes matching that digest', async () => {
    const { digest } = image.manifest.descriptor;
    const res = await ctx.client().get(`/v2/${repo}/manifests/${digest}`, { headers: { Accept: OCI_MANIFEST } });
    expect(res.status).toBe(200);
    expect(res.headers.get('content-type')).toBe(OCI_MANIFEST);
    expect(sha256(await bytesOf(res))).toBe(digest);
  });

  it('HEAD a manifest by tag and by digest: 200, Docker-Content-Digest, Content-Length, no body', async () => {
    const { digest, size } = image.manifest.descriptor;
    for (const ref of ['v1', digest]) {
      const res = await ctx.client().head(`/v2/${repo}/manifests/${ref}`, { headers: { Accept: OCI_MANIFEST } });
      expect(res.status).toBe(200);
      expect(res.headers.get('docker-content-digest')).toBe(digest);
      expect(res.headers.get('content-length')).toBe(String(size));
      expect((await bytesOf(res)).length).toBe(0);
    }
  });

  it('GET a blob: 200, its bytes, Docker-Content-Digest matching the body', async () => {
    const layer = image.layers[0]!;
    const res = await ctx.client().get(`/v2/${repo}/blobs/${layer.descriptor.digest}`);
    expect(res.status).toBe(200);
    const body = await bytesOf(res);
    expect(body.equals(layer.bytes)).toBe(true);
    expect(res.headers.get('docker-content-digest')).toBe(sha256(body));
  });

  it('HEAD a blob: 200, Content-Length of the blob, no body', async () => {
    const layer = image.layers[1]!;
    const res = await ctx.client().head(`/v2/${repo}/blobs/${layer.descriptor.digest}`);
    expect(res.status).toBe(200);
    expect(res.headers.get('content-length')).toBe(String(layer.bytes.length));
    expect(res.headers.get('docker-content-digest')).toBe(layer.descriptor.digest);
    expect((await bytesOf(res)).length).toBe(0);
  });

  it('GET a blob with Range (RFC 9110): 206, Content-Range and exactly those bytes', async () => {
    const layer = image.layers[0]!;
    const size = layer.bytes.length;
    const res = await ctx.client().get(`/v2/${repo}/blobs/${layer.descriptor.digest}`, { headers: { Range: 'bytes=10-99' } });
    expect(res.status).toBe(206);
    expect(res.headers.get('content-range')).toBe(`bytes 10-99/${size}`);
    expect((await bytesOf(res)).equals(layer.bytes.subarray(10, 100))).toBe(true);

    const tail = await ctx.client().get(`/v2/${repo}/blobs/${layer.descriptor.digest}`, { headers: { Range: 'bytes=-16' } });
    expect(tail.status).toBe(206);
    expect((await bytesOf(tail)).equals(layer.bytes.subarray(size - 16))).toBe(true);
  });

  it('GET a blob with an unsatisfiable Range: 416 with Content-Range bytes */size', async () => {
    const layer = image.layers[0]!;
    const size = layer.bytes.length;
    const res = await ctx.client().get(`/v2/${repo}/blobs/${layer.descriptor.digest}`, { headers: { Range: `bytes=${size + 10}-` } });
    expect(res.status).toBe(416);
    expect(res.headers.get('content-range')).toBe(`bytes */${size}`);
    if (ctx.capabilities.rangeErrorBody) await expectError(res, 416, 'RANGE_INVALID');
    // The spec gives this body no format (Distribution 2.8 even sends fewer bytes than its Content-Length).
    else await res.body?.cancel();
  });

  it('a missing manifest is 404 MANIFEST_UNKNOWN, by tag and by digest; HEAD is 404 too', async () => {
    await expectError(await ctx.client().get(`/v2/${repo}/manifests/nope`), 404, 'MANIFEST_UNKNOWN');
    const absent = makeBlob(32).descriptor.digest;
    await expectError(await ctx.client().get(`/v2/${repo}/manifests/${absent}`), 404, 'MANIFEST_UNKNOWN');
    const head = await ctx.client().head(`/v2/${repo}/manifests/nope`);
    expect(head.status).toBe(404);
    expect((await bytesOf(head)).length).toBe(0);
  });

  it('a missing blob is 404 BLOB_UNKNOWN; HEAD is 404 with no body', async () => {
    const absent = makeBlob(32).descriptor.digest;
    await expectError(await ctx.client().get(`/v2/${repo}/blobs/${absent}`), 404, 'BLOB_UNKNOWN');
    const head = await ctx.client().head(`/v2/${repo}/blobs/${absent}`);
    expect(head.status).toBe(404);
    expect((await bytesOf(head)).length).toBe(0);
  });

  it('a blob pushed to another repository is not pullable here (404 BLOB_UNKNOWN)', async () => {
    const other = uniqueRepo('pull-other');
    const layer = image.layers[0]!;
    await expectError(await ctx.client().get(`/v2/${other}/blobs/${layer.descriptor.digest}`), 404, 'BLOB_UNKNOWN');
  });

  it('a manifest in a repository that does not exist is 404 (NAME_UNKNOWN or MANIFEST_UNKNOWN)', async () => {
    await expectError(await ctx.client().get(`/v2/${uniqueRepo('never-pushed')}/manifests/latest`), 404, 'NAME_UNKNOWN', 'MANIFEST_UNKNOWN');
  });
}
