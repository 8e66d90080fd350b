import { expect, it } from 'vitest';
import type { FlowContext } from '../conformance-suite.js';
import {
  OCI_INDEX,
  OCI_LAYER,
  OCI_MANIFEST,
  makeBlob,
  makeConfig,
  makeEmptyConfig,
  makeImageManifest,
  makeIndex,
  pushBlob,
  pushImage,
  pushManifest,
  uniqueRepo,
} from '../content.js';
import { bytesOf, expectError, locationOf, sha256, sha512 } from '../registry-client.js';

/** Spec, "Workflow Categories › Push": monolithic, single POST, mount, manifests (end-4a/4b, 6, 7, 11). */
export function pushFlows(ctx: FlowContext): void {
  it('POST then PUT: 202 with a Location, then 201 with a Location that pulls the blob', async () => {
    const repo = uniqueRepo('push');
    const blob = makeBlob(4096);
    const start = await ctx.client().startUpload(repo);
    expect(start.status).toBe(202);
    // "POST then PUT": the <location> MUST contain a UUID naming the session.
    expect(locationOf(start)).toMatch(/[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}/i);
    const put = await ctx.client().request('PUT', locationOf(start), {
      query: { digest: blob.descriptor.digest },
      body: blob.bytes,
      headers: { 'Content-Type': 'application/octet-stream' },
    });
    expect(put.status).toBe(201);
    const pulled = await ctx.client().get(locationOf(put));
    expect(pulled.status).toBe(200);
    expect((await bytesOf(pulled)).equals(blob.bytes)).toBe(true);
  });

  it('a sha512 blob and a zero-byte blob push and pull back', async () => {
    const repo = uniqueRepo('push');
    const bytes = makeBlob(777).bytes;
    const long = { bytes, descriptor: { mediaType: OCI_LAYER, digest: sha512(bytes), size: bytes.length } };
    const empty = Buffer.alloc(0);
    const nothing = { bytes: empty, descriptor: { mediaType: OCI_LAYER, digest: sha256(empty), size: 0 } };
    for (const blob of [long, nothing]) {
      await pushBlob(ctx.client(), repo, blob);
      const pulled = await ctx.client().get(`/v2/${repo}/blobs/${blob.descriptor.digest}`);
      expect(pulled.status).toBe(200);
      expect((await bytesOf(pulled)).equals(blob.bytes)).toBe(true);
    }
  });

  it('two POSTs get two different upload sessions', async () => {
    const repo = uniqueRepo('push');
    const a = locationOf(await ctx.client().startUpload(repo));
    const b = locationOf(await ctx.client().startUpload(repo));
    expect(ctx.client().url(a).pathname).not.toBe(ctx.client().url(b).pathname);
  });

  it('single POST ?digest=: 201 with a pullable Location, or (where unsupported) 202 and the PUT completes it', async () => {
    const repo = uniqueRepo('push');
    const blob = makeBlob(2048);
    const res = await ctx.client().startUpload(repo, {
      query: { digest: blob.descriptor.digest },
      body: blob.bytes,
      headers: { 'Content-Type': 'application/octet-stream', 'Content-Length': String(blob.bytes.length) },
    });
    // "Single POST": registries MAY support it; those that do not SHOULD answer 202 and a Location.
    if (ctx.capabilities.singlePostUpload) expect(res.status).toBe(201);
    else expect([201, 202]).toContain(res.status);
    let location = locationOf(res);
    if (res.status === 202) {
      const put = await ctx.client().request('PUT', location, {
        query: { digest: blob.descriptor.digest },
        body: blob.bytes,
        headers: { 'Content-Type': 'application/octet-stream' },
      });
      expect(put.status).toBe(201);
      location = locationOf(put);
    }
    const pulled = await ctx.client().get(location);
    expect((await bytesOf(pulled)).equals(blob.bytes)).toBe(true);
  });

  it('mount with from=: 201, Location and Docker-Content-Digest; the blob is then pullable from the target', async () => {
    const source = uniqueRepo('mount-source');
    const target = uniqueRepo('mount-target');
    const blob = makeBlob(1500);
    await pushBlob(ctx.client(), source, blob);
    const res = await ctx.client().startUpload(target, { query: { mount: blob.descriptor.digest, from: source } });
    expect(res.status).toBe(201);
    expect(res.headers.get('docker-content-digest')).toBe(blob.descriptor.digest);
    const pulled = await ctx.client().get(locationOf(res));
    expect(pulled.status).toBe(200);
    expect((await bytesOf(pulled)).equals(blob.bytes)).toBe(true);
    const head = await ctx.client().head(`/v2/${target}/blobs/${blob.descriptor.digest}`);
    expect(head.status).toBe(200);
  });

  it('a mount that cannot happen (blob absent, source absent, malformed digest or source name) falls back to 202', async () => {
    const target = uniqueRepo('mount-target');
    const source = uniqueRepo('mount-source');
    const blob = makeBlob(700);
    await pushBlob(ctx.client(), source, makeBlob(10));
    // "Mounting a blob": a registry unable to mount SHOULD answer 202 (the session has begun); end-11
    // lists 201/202 and 404 only, so a malformed parameter is no reason for a 400.
    const attempts = [
      { mount: blob.descriptor.digest, from: source },
      { mount: blob.descriptor.digest, from: uniqueRepo('mount-nowhere') },
      { mount: 'sha256:not-a-digest', from: source },
      { mount: blob.descriptor.digest, from: 'Not..A..Name' },
    ];
    for (const query of attempts) {
      const res = await ctx.client().startUpload(target, { query });
      expect(res.status, JSON.stringify(query)).toBe(202);
      locationOf(res);
    }
    const last = await ctx.client().startUpload(target, { query: attempts[0]! });
    const put = await ctx.client().request('PUT', locationOf(last), {
      query: { digest: blob.descriptor.digest },
      body: blob.bytes,
      headers: { 'Content-Type': 'application/octet-stream' },
    });
    expect(put.status).toBe(201);
    expect((await ctx.client().head(`/v2/${target}/blobs/${blob.descriptor.digest}`)).status).toBe(200);
  });

  it('PUT a manifest by tag: 201, Location, Docker-Content-Digest of the exact bytes', async () => {
    const repo = uniqueRepo('push');
    const config = makeConfig();
    const layer = makeBlob();
    await pushBlob(ctx.client(), repo, config);
    await pushBlob(ctx.client(), repo, layer);
    // Unusual whitespace: the registry must store "the exact byte representation provided".
    const body = Buffer.from(JSON.stringify({ schemaVersion: 2, mediaType: OCI_MANIFEST, config: config.descriptor, layers: [layer.descriptor] }, null, 3));
    const res = await ctx.client().putManifest(repo, 'tagged', body, OCI_MANIFEST);
    expect(res.status).toBe(201);
    expect(res.headers.get('docker-content-digest')).toBe(sha256(body));
    const pulled = await ctx.client().get(locationOf(res), { headers: { Accept: OCI_MANIFEST } });
    expect(pulled.status).toBe(200);
    expect((await bytesOf(pulled)).equals(body)).toBe(true);
    const byTag = await ctx.client().get(`/v2/${repo}/manifests/tagged`, { headers: { Accept: OCI_MANIFEST } });
    expect((await bytesOf(byTag)).equals(body)).toBe(true);
  });

  it('Content-Type parameters on a manifest PUT are ignored; the GET Content-Type carries none', async () => {
    const repo = uniqueRepo('push');
    const image = await pushImage(ctx.client(), repo);
    // "Pushing Manifests": the registry SHOULD ignore parameters; "Pulling manifests": SHOULD NOT send any.
    const res = await ctx.client().putManifest(repo, 'params', image.manifest.body, `${OCI_MANIFEST}; charset=utf-8`);
    expect(res.status).toBe(201);
    const pulled = await ctx.client().get(`/v2/${repo}/manifests/params`, { headers: { Accept: OCI_MANIFEST } });
    expect(pulled.headers.get('content-type')).toBe(OCI_MANIFEST);
    expect((await bytesOf(pulled)).equals(image.manifest.body)).toBe(true);
  });

  it('PUT a manifest by digest: 201 and Docker-Content-Digest equal to that digest', async () => {
    const repo = uniqueRepo('push');
    const image = await pushImage(ctx.client(), repo);
    const { digest } = image.manifest.descriptor;
    const again = await ctx.client().putManifest(repo, digest, image.manifest.body, OCI_MANIFEST);
    expect(again.status).toBe(201);
    expect(again.headers.get('docker-content-digest')).toBe(digest);
  });

  it.runIf(ctx.capabilities.sha512ManifestDigests)('PUT a manifest by a sha512 digest: 201 with that digest, pullable by it', async () => {
    const repo = uniqueRepo('push');
    const image = await pushImage(ctx.client(), repo);
    const digest = sha512(image.manifest.body);
    const res = await ctx.client().putManifest(repo, digest, image.manifest.body, OCI_MANIFEST);
    expect(res.status).toBe(201);
    expect(res.headers.get('docker-content-digest')).toBe(digest);
    const pulled = await ctx.client().get(`/v2/${repo}/manifests/${digest}`, { headers: { Accept: OCI_MANIFEST } });
    expect((await bytesOf(pulled)).equals(image.manifest.body)).toBe(true);
  });

  it('PUT an index whose child manifests exist: 201, pulled back as an index', async () => {
    const repo = uniqueRepo('push');
    const amd = await pushImage(ctx.client(), repo);
    const arm = await pushImage(ctx.client(), repo);
    const index = makeIndex([
      { ...amd.manifest.descriptor, platform: { architecture: 'amd64', os: 'linux' } },
      { ...arm.manifest.descriptor, platform: { architecture: 'arm64', os: 'linux' } },
    ]);
    await pushManifest(ctx.client(), repo, 'multi', index);
    const res = await ctx.client().get(`/v2/${repo}/manifests/multi`, { headers: { Accept: `${OCI_INDEX}, ${OCI_MANIFEST}` } });
    expect(res.status).toBe(200);
    expect(res.headers.get('content-type')).toBe(OCI_INDEX);
    expect((await bytesOf(res)).equals(index.body)).toBe(true);
  });

  it('an artifact (artifactType, empty config) is accepted', async () => {
    const repo = uniqueRepo('push');
    const config = makeEmptyConfig();
    const layer = makeBlob(300, 'application/vnd.example.payload');
    await pushBlob(ctx.client(), repo, config);
    await pushBlob(ctx.client(), repo, layer);
    const artifact = makeImageManifest(config.descriptor, [layer.descriptor], { artifactType: 'application/vnd.example.thing.v1' });
    await pushManifest(ctx.client(), repo, 'artifact', artifact);
  });

  it('a manifest whose subject does not exist is accepted ("Push": MUST initially accept)', async () => {
    const repo = uniqueRepo('push');
    const config = makeEmptyConfig();
    await pushBlob(ctx.client(), repo, config);
    const missing = makeImageManifest(makeConfig().descriptor, []);
    const referrer = makeImageManifest(config.descriptor, [config.descriptor], {
      artifactType: 'application/vnd.example.signature.v1',
      subject: missing.descriptor,
    });
    const res = await ctx.client().putManifest(repo, referrer.descriptor.digest, referrer.body, OCI_MANIFEST);
    expect(res.status).toBe(201);
  });

  it('DELETE on an upload session cancels it: 204, then the session is 404 BLOB_UPLOAD_UNKNOWN', async () => {
    const repo = uniqueRepo('push');
    const location = locationOf(await ctx.client().startUpload(repo));
    const cancel = await ctx.client().request('DELETE', location);
    expect(cancel.status).toBe(204);
    await expectError(await ctx.client().get(location), 404, 'BLOB_UPLOAD_UNKNOWN');
  });
}
