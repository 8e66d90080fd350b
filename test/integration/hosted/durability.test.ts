import { randomBytes } from 'node:crypto';
import { rm } from 'node:fs/promises';
import { afterAll, describe, expect, it } from 'vitest';
import { OCI_INDEX, OCI_MANIFEST, indexManifest, pushBlob, pushImage, putManifest, sha256 } from '../../helpers/push.js';
import { startRegistry, tmpDir, type RunningRegistry } from '../../helpers/registry.js';

describe('durability across a restart on the same data folder', () => {
  let dataDir: string;
  const running: RunningRegistry[] = [];

  afterAll(async () => {
    for (const r of running) await r.close().catch(() => undefined);
    await rm(dataDir, { recursive: true, force: true });
  });

  it('manifests, tags, blobs, referrers, catalog and an open upload survive; deletions stay deleted', async () => {
    dataDir = await tmpDir('durable-');
    const first = await startRegistry({}, { dataDir, keepData: true });
    running.push(first);
    const image = await pushImage(first.url, 'org/team/app', 'v1', { seed: 'durable' });
    const index = indexManifest([{ ...image.manifest, platform: { os: 'linux', architecture: 'amd64' } }]);
    expect((await putManifest(first.url, 'org/team/app', 'multi', index, OCI_INDEX)).status).toBe(201);
    expect((await putManifest(first.url, 'org/team/app', 'doomed', image.body, OCI_MANIFEST)).status).toBe(201);
    expect((await fetch(`${first.url}/v2/org/team/app/manifests/doomed`, { method: 'DELETE' })).status).toBe(202);
    const empty = await pushBlob(first.url, 'org/team/app', '{}', 'application/vnd.oci.empty.v1+json');
    const sbom = Buffer.from(JSON.stringify({ schemaVersion: 2, mediaType: OCI_MANIFEST, artifactType: 'application/x-sbom', config: empty, layers: [empty], subject: image.manifest }));
    expect((await putManifest(first.url, 'org/team/app', sha256(sbom), sbom, OCI_MANIFEST)).status).toBe(201);

    // An upload left half-way, to be resumed after the restart.
    const data = randomBytes(40_000);
    const start = await fetch(`${first.url}/v2/org/team/app/blobs/uploads/`, { method: 'POST' });
    const location = start.headers.get('location')!;
    const patch = await fetch(new URL(location, first.url), { method: 'PATCH', body: data.subarray(0, 25_000), headers: { 'Content-Range': '0-24999' } });
    expect(patch.status).toBe(202);
    await first.close();

    const second = await startRegistry({}, { dataDir, keepData: true });
    running.push(second);
    const url = second.url;
    for (const ref of ['v1', image.manifest.digest]) {
      const res = await fetch(`${url}/v2/org/team/app/manifests/${ref}`, { headers: { Accept: OCI_MANIFEST } });
      expect(res.status, ref).toBe(200);
      expect(res.headers.get('content-type')).toBe(OCI_MANIFEST);
      expect(Buffer.from(await res.arrayBuffer())).toEqual(image.body);
    }
    const multi = await fetch(`${url}/v2/org/team/app/manifests/multi`);
    expect(multi.headers.get('content-type')).toBe(OCI_INDEX);
    expect(Buffer.from(await multi.arrayBuffer())).toEqual(index);
    expect((await fetch(`${url}/v2/org/team/app/manifests/doomed`)).status).toBe(404);
    expect(await (await fetch(`${url}/v2/org/team/app/tags/list`)).json()).toEqual({ name: 'org/team/app', tags: ['multi', 'v1'] });
    expect(await (await fetch(`${url}/v2/_catalog`)).json()).toEqual({ repositories: ['org/team/app'] });
    const layer = await fetch(`${url}/v2/org/team/app/blobs/${image.layers[0]!.digest}`);
    expect(await layer.text()).toBe('layer of durable');
    const refs = (await (await fetch(`${url}/v2/org/team/app/referrers/${image.manifest.digest}`)).json()) as { manifests: Array<{ digest: string }> };
    expect(refs.manifests.map((m) => m.digest)).toEqual([sha256(sbom)]);

    const status = await fetch(new URL(location, url));
    expect(status.status).toBe(204);
    expect(status.headers.get('range')).toBe('0-24999');
    const put = await fetch(new URL(`${location}?digest=${sha256(data)}`, url), { method: 'PUT', body: data.subarray(25_000) });
    expect(put.status).toBe(201);
    const blob = await fetch(`${url}/v2/org/team/app/blobs/${sha256(data)}`);
    expect(Buffer.from(await blob.arrayBuffer())).toEqual(data);
  });
});
