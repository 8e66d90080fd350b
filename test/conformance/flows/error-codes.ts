import { expect, it } from 'vitest';
import type { FlowContext } from '../conformance-suite.js';
import { OCI_INDEX, OCI_MANIFEST, makeBlob, makeConfig, makeImageManifest, makeIndex, pushBlob, pushImage, uniqueRepo } from '../content.js';
import { expectError, locationOf } from '../registry-client.js';

/**
 * Spec, "Error Codes": each code provoked by the request the spec ties it to, with the
 * `{"errors":[{code,message,detail}]}` body (checked by expectError).
 */
export function errorCodeFlows(ctx: FlowContext): void {
  it('BLOB_UNKNOWN (404): GET and DELETE of a blob the repository does not have', async () => {
    const repo = uniqueRepo('errors');
    await pushImage(ctx.client(), repo, 'x');
    const absent = makeBlob(8).descriptor.digest;
    await expectError(await ctx.client().get(`/v2/${repo}/blobs/${absent}`), 404, 'BLOB_UNKNOWN');
    await expectError(await ctx.client().request('DELETE', `/v2/${repo}/blobs/${absent}`), 404, 'BLOB_UNKNOWN');
  });

  it('BLOB_UPLOAD_UNKNOWN (404): GET, PATCH and PUT on the Location of a cancelled session', async () => {
    const repo = uniqueRepo('errors');
    // The session's own Location (clients SHOULD NOT assemble one), so only the session's state differs.
    const location = locationOf(await ctx.client().startUpload(repo));
    expect((await ctx.client().request('DELETE', location)).status).toBe(204);
    const blob = makeBlob(10);
    await expectError(await ctx.client().get(location), 404, 'BLOB_UPLOAD_UNKNOWN');
    const patch = await ctx.client().request('PATCH', location, {
      body: blob.bytes,
      headers: { 'Content-Type': 'application/octet-stream', 'Content-Range': '0-9', 'Content-Length': '10' },
    });
    await expectError(patch, 404, 'BLOB_UPLOAD_UNKNOWN');
    const put = await ctx.client().request('PUT', location, {
      query: { digest: blob.descriptor.digest },
      body: blob.bytes,
      headers: { 'Content-Type': 'application/octet-stream' },
    });
    await expectError(put, 404, 'BLOB_UPLOAD_UNKNOWN');
  });

  it('BLOB_UPLOAD_UNKNOWN (404): GET and PUT on the Location of a session already closed', async () => {
    const repo = uniqueRepo('errors');
    const blob = makeBlob(40);
    const location = locationOf(await ctx.client().startUpload(repo));
    const close = { query: { digest: blob.descriptor.digest }, body: blob.bytes, headers: { 'Content-Type': 'application/octet-stream' } };
    expect((await ctx.client().request('PUT', location, close)).status).toBe(201);
    await expectError(await ctx.client().get(location), 404, 'BLOB_UPLOAD_UNKNOWN');
    await expectError(await ctx.client().request('PUT', location, close), 404, 'BLOB_UPLOAD_UNKNOWN');
  });

  it('DIGEST_INVALID (400): a closing PUT without the digest it MUST carry', async () => {
    const repo = uniqueRepo('errors');
    const location = locationOf(await ctx.client().startUpload(repo));
    const put = await ctx.client().request('PUT', location, { body: makeBlob(16).bytes, headers: { 'Content-Type': 'application/octet-stream' } });
    await expectError(put, 400, 'DIGEST_INVALID');
  });

  it('DIGEST_INVALID (400): closing PUT with a digest that does not match the bytes; nothing is stored', async () => {
    const repo = uniqueRepo('errors');
    const blob = makeBlob(256);
    const claimed = makeBlob(256).descriptor.digest;
    const start = await ctx.client().startUpload(repo);
    const put = await ctx.client().request('PUT', locationOf(start), {
      query: { digest: claimed },
      body: blob.bytes,
      headers: { 'Content-Type': 'application/octet-stream' },
    });
    await expectError(put, 400, 'DIGEST_INVALID');
    expect((await ctx.client().head(`/v2/${repo}/blobs/${claimed}`)).status).toBe(404);
    expect((await ctx.client().head(`/v2/${repo}/blobs/${blob.descriptor.digest}`)).status).toBe(404);
  });

  it('DIGEST_INVALID (400): closing PUT with a malformed digest', async () => {
    const repo = uniqueRepo('errors');
    const start = await ctx.client().startUpload(repo);
    const put = await ctx.client().request('PUT', locationOf(start), {
      query: { digest: 'sha256:not-hex' },
      body: makeBlob(16).bytes,
      headers: { 'Content-Type': 'application/octet-stream' },
    });
    await expectError(put, 400, 'DIGEST_INVALID');
  });

  it.runIf(ctx.capabilities.singlePostUpload)('DIGEST_INVALID (400): single POST whose bytes do not match ?digest=', async () => {
    const repo = uniqueRepo('errors');
    const blob = makeBlob(64);
    const claimed = makeBlob(64).descriptor.digest;
    const res = await ctx.client().startUpload(repo, {
      query: { digest: claimed },
      body: blob.bytes,
      headers: { 'Content-Type': 'application/octet-stream', 'Content-Length': '64' },
    });
    await expectError(res, 400, 'DIGEST_INVALID');
    expect((await ctx.client().head(`/v2/${repo}/blobs/${claimed}`)).status).toBe(404);
  });

  it('DIGEST_INVALID (400): manifest PUT by a digest that is not the body\'s', async () => {
    const repo = uniqueRepo('errors');
    const image = await pushImage(ctx.client(), repo);
    const other = makeBlob(32).descriptor.digest;
    await expectError(await ctx.client().putManifest(repo, other, image.manifest.body, OCI_MANIFEST), 400, 'DIGEST_INVALID');
  });

  it('MANIFEST_BLOB_UNKNOWN (400): an image manifest whose layer was never pushed', async () => {
    const repo = uniqueRepo('errors');
    const config = makeConfig();
    await pushBlob(ctx.client(), repo, config);
    const manifest = makeImageManifest(config.descriptor, [makeBlob(100).descriptor]);
    await expectError(await ctx.client().putManifest(repo, 'broken', manifest.body, OCI_MANIFEST), 400, 'MANIFEST_BLOB_UNKNOWN');
  });

  it('MANIFEST_BLOB_UNKNOWN (400): a layer that exists only in another repository, or was deleted here', async () => {
    const repo = uniqueRepo('errors');
    const elsewhere = uniqueRepo('errors-elsewhere');
    const config = makeConfig();
    const foreign = makeBlob(120);
    const deleted = makeBlob(130);
    await pushBlob(ctx.client(), repo, config);
    await pushBlob(ctx.client(), elsewhere, foreign);
    await pushBlob(ctx.client(), repo, deleted);
    expect((await ctx.client().request('DELETE', `/v2/${repo}/blobs/${deleted.descriptor.digest}`)).status).toBe(202);
    for (const layer of [foreign, deleted]) {
      const manifest = makeImageManifest(config.descriptor, [layer.descriptor]);
      await expectError(await ctx.client().putManifest(repo, 'broken', manifest.body, OCI_MANIFEST), 400, 'MANIFEST_BLOB_UNKNOWN');
    }
  });

  it('MANIFEST_BLOB_UNKNOWN (400): an index whose child manifest was never pushed', async () => {
    const repo = uniqueRepo('errors');
    const present = await pushImage(ctx.client(), repo);
    const absent = makeImageManifest(makeConfig().descriptor, []);
    const index = makeIndex([present.manifest.descriptor, absent.descriptor]);
    await expectError(await ctx.client().putManifest(repo, 'broken-index', index.body, OCI_INDEX), 400, 'MANIFEST_BLOB_UNKNOWN');
  });

  it('MANIFEST_INVALID (400): not JSON, not an object, a field of the wrong type, a mediaType contradicting Content-Type', async () => {
    const repo = uniqueRepo('errors');
    const config = makeConfig();
    await pushBlob(ctx.client(), repo, config);
    const bad = [
      'this is not json',
      '[1,2]',
      JSON.stringify({ schemaVersion: 2, mediaType: OCI_MANIFEST, config: config.descriptor, layers: 'none' }),
      JSON.stringify({ schemaVersion: 2, mediaType: OCI_MANIFEST, config: { ...config.descriptor, size: 'big' }, layers: [] }),
      JSON.stringify({ schemaVersion: 2, mediaType: OCI_INDEX, config: config.descriptor, layers: [] }),
    ];
    for (const body of bad) await expectError(await ctx.client().putManifest(repo, 'bad', body, OCI_MANIFEST), 400, 'MANIFEST_INVALID');
  });

  it('MANIFEST_UNKNOWN (404): an unknown tag and an unknown digest', async () => {
    const repo = uniqueRepo('errors');
    await pushImage(ctx.client(), repo, 'known');
    await expectError(await ctx.client().get(`/v2/${repo}/manifests/unknown`), 404, 'MANIFEST_UNKNOWN');
    await expectError(await ctx.client().get(`/v2/${repo}/manifests/${makeBlob(8).descriptor.digest}`), 404, 'MANIFEST_UNKNOWN');
  });

  it('NAME_UNKNOWN (404): listing the tags of a repository that does not exist', async () => {
    await expectError(await ctx.client().get(`/v2/${uniqueRepo('errors-absent')}/tags/list`), 404, 'NAME_UNKNOWN');
  });

  it('a repository name outside the grammar is a client error, never a 2xx or 5xx', async () => {
    for (const name of ['Conformance/UPPER', 'conformance/a..b', 'conformance/trailing-']) {
      const res = await ctx.client().get(`/v2/${name}/tags/list`);
      await res.arrayBuffer();
      expect(res.status).toBeGreaterThanOrEqual(400);
      expect(res.status).toBeLessThan(500);
    }
  });

  it('a tag outside the grammar (129 characters) is refused with a client error and not stored', async () => {
    const repo = uniqueRepo('errors');
    const image = await pushImage(ctx.client(), repo, 'ok');
    const tag = 't'.repeat(129);
    const put = await ctx.client().putManifest(repo, tag, image.manifest.body, OCI_MANIFEST);
    await put.arrayBuffer();
    expect(put.status).toBeGreaterThanOrEqual(400);
    expect(put.status).toBeLessThan(500);
    const tags = (await (await ctx.client().get(`/v2/${repo}/tags/list`)).json()) as { tags: string[] };
    expect(tags.tags).toEqual(['ok']);
  });

  it.runIf(ctx.capabilities.nameInvalidError)('NAME_INVALID (400): a name outside the grammar, and one over 255 characters', async () => {
    await expectError(await ctx.client().get('/v2/Conformance/UPPER/tags/list'), 400, 'NAME_INVALID');
    await expectError(await ctx.client().startUpload('conformance/a..b'), 400, 'NAME_INVALID');
    const long = `conformance/${'a'.repeat(250)}`;
    await expectError(await ctx.client().get(`/v2/${long}/tags/list`), 400, 'NAME_INVALID');
    await expectError(await ctx.client().startUpload(long), 400, 'NAME_INVALID');
  });

  it.runIf(ctx.capabilities.outOfOrderChunkRejected)('RANGE_INVALID (416): a chunk that does not start where the upload ends', async () => {
    const repo = uniqueRepo('errors');
    const blob = makeBlob(100);
    const location = locationOf(await ctx.client().startUpload(repo));
    const res = await ctx.client().request('PATCH', location, {
      body: blob.bytes.subarray(50),
      headers: { 'Content-Type': 'application/octet-stream', 'Content-Range': '50-99', 'Content-Length': '50' },
    });
    await expectError(res, 416, 'RANGE_INVALID');
  });
}
