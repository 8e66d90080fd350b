import { expect, it } from 'vitest';
import type { FlowContext } from '../conformance-suite.js';
import { OCI_MANIFEST, makeBlob, pushBlob, pushImage, pushManifest, uniqueRepo } from '../content.js';
import { expectError } from '../registry-client.js';

/** Spec, "Content Management": deleting tags, manifests and blobs (end-9, end-10). */
export function contentManagementFlows(ctx: FlowContext): void {
  const accept = { Accept: OCI_MANIFEST };

  it('DELETE a manifest by tag removes only the tag (202), or is refused with 400/405 where tag deletion is off', async () => {
    const client = ctx.client();
    const repo = uniqueRepo('delete-tag');
    const image = await pushImage(client, repo, 'doomed');
    await pushManifest(client, repo, 'kept', image.manifest);
    const res = await client.request('DELETE', `/v2/${repo}/manifests/doomed`);
    await res.arrayBuffer();
    if (!ctx.capabilities.tagDeletion) {
      // "Deleting tags": a registry MAY implement tag deletion; when disabled it MUST answer 400 or 405.
      expect([202, 400, 405]).toContain(res.status);
      if (res.status !== 202) return;
    } else {
      expect(res.status).toBe(202);
    }
    await expectError(await client.get(`/v2/${repo}/manifests/doomed`, { headers: accept }), 404, 'MANIFEST_UNKNOWN');
    expect((await client.head(`/v2/${repo}/manifests/${image.manifest.descriptor.digest}`, { headers: accept })).status).toBe(200);
    expect((await client.head(`/v2/${repo}/manifests/kept`, { headers: accept })).status).toBe(200);
  });

  it.runIf(ctx.capabilities.tagDeletion)('DELETE of a tag the repository does not have is 404 MANIFEST_UNKNOWN', async () => {
    const repo = uniqueRepo('delete-tag');
    await pushImage(ctx.client(), repo, 'present');
    await expectError(await ctx.client().request('DELETE', `/v2/${repo}/manifests/absent`), 404, 'MANIFEST_UNKNOWN');
  });

  it('DELETE a manifest by digest: 202, then the digest and every tag pointing at it are 404', async () => {
    const client = ctx.client();
    const repo = uniqueRepo('delete-manifest');
    const image = await pushImage(client, repo, 'first');
    await pushManifest(client, repo, 'second', image.manifest);
    const { digest } = image.manifest.descriptor;
    const res = await client.request('DELETE', `/v2/${repo}/manifests/${digest}`);
    await res.arrayBuffer();
    expect(res.status).toBe(202);
    await expectError(await client.get(`/v2/${repo}/manifests/${digest}`, { headers: accept }), 404, 'MANIFEST_UNKNOWN');
    await expectError(await client.get(`/v2/${repo}/manifests/first`, { headers: accept }), 404, 'MANIFEST_UNKNOWN');
    await expectError(await client.get(`/v2/${repo}/manifests/second`, { headers: accept }), 404, 'MANIFEST_UNKNOWN');
    const tags = await client.get(`/v2/${repo}/tags/list`);
    if (tags.status === 200) expect(((await tags.json()) as { tags: string[] | null }).tags ?? []).toEqual([]);
    else await expectError(tags, 404, 'NAME_UNKNOWN');
  });

  it('DELETE of a manifest digest the repository does not have is 404 MANIFEST_UNKNOWN', async () => {
    const client = ctx.client();
    const repo = uniqueRepo('delete-manifest');
    await pushImage(client, repo, 'present');
    const absent = makeBlob(16).descriptor.digest;
    await expectError(await client.request('DELETE', `/v2/${repo}/manifests/${absent}`), 404, 'MANIFEST_UNKNOWN');
  });

  it('DELETE of a manifest in a repository that does not exist is 404', async () => {
    const res = await ctx.client().request('DELETE', `/v2/${uniqueRepo('never-pushed')}/manifests/${makeBlob(16).descriptor.digest}`);
    await expectError(res, 404, 'MANIFEST_UNKNOWN', 'NAME_UNKNOWN');
  });

  it('DELETE a blob: 202, then the blob is 404 BLOB_UNKNOWN; deleting it again is 404 BLOB_UNKNOWN', async () => {
    const client = ctx.client();
    const repo = uniqueRepo('delete-blob');
    const blob = makeBlob(900);
    await pushBlob(client, repo, blob);
    const path = `/v2/${repo}/blobs/${blob.descriptor.digest}`;
    const res = await client.request('DELETE', path);
    await res.arrayBuffer();
    expect(res.status).toBe(202);
    await expectError(await client.get(path), 404, 'BLOB_UNKNOWN');
    await expectError(await client.request('DELETE', path), 404, 'BLOB_UNKNOWN');
  });

  it('a deleted blob can be pushed again', async () => {
    const client = ctx.client();
    const repo = uniqueRepo('delete-blob');
    const blob = makeBlob(600);
    await pushBlob(client, repo, blob);
    expect((await client.request('DELETE', `/v2/${repo}/blobs/${blob.descriptor.digest}`)).status).toBe(202);
    await pushBlob(client, repo, blob);
    expect((await client.head(`/v2/${repo}/blobs/${blob.descriptor.digest}`)).status).toBe(200);
  });
}
