import { randomBytes } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { storageSchema } from '../../../src/config/storage-schema.js';
import { createS3Client, S3Bucket } from '../../../src/storage/s3/s3-bucket.js';
import { S3BlobStore } from '../../../src/storage/s3/s3-blob-store.js';
import type { Digest } from '../../../src/oci/digest.js';
import { FakeHub } from '../../helpers/fake-hub.js';
import { startMirror } from '../../helpers/mirror.js';
import { OciLayout, type BuiltImage } from '../../helpers/oci-layout.js';
import { pullImage } from '../../helpers/push-image.js';
import { sha256 } from '../../helpers/push.js';
import { startRegistry, tmpDir, type RunningRegistry } from '../../helpers/registry.js';
import { S3_ENV, startS3, type RunningS3 } from '../../helpers/s3.js';
import { startUpload, withDigest } from '../../helpers/upload-session.js';

// Two registries over one bucket stand for two replicas behind a load balancer (each with its own
// local folder); B answers blob GETs with redirects to presigned URLs.
describe('registries on S3 storage', () => {
  let s3: RunningS3;
  let a: RunningRegistry;
  let b: RunningRegistry;

  beforeAll(async () => {
    s3 = await startS3();
    a = await startRegistry({ storage: s3.storage() }, { env: S3_ENV });
    b = await startRegistry({ storage: s3.storage({ redirect: true }) }, { env: S3_ENV });
  });
  afterAll(async () => {
    await a?.close();
    await b?.close();
    await s3?.close();
  });

  it('a chunked upload may move between replicas at every request: POST on A, PATCHes on B and A, PUT on B', async () => {
    const data = randomBytes(300_000);
    const digest = sha256(data);
    const session = await startUpload(a.url, 'team/app');
    const path = session.pathname + session.search;
    const patch = async (on: RunningRegistry, from: number, to: number) => {
      const res = await fetch(`${on.url}${path}`, {
        method: 'PATCH',
        body: data.subarray(from, to),
        headers: { 'content-type': 'application/octet-stream', 'content-range': `${from}-${to - 1}` },
      });
      await res.arrayBuffer();
      return res;
    };
    expect((await patch(b, 0, 100_000)).headers.get('range')).toBe('0-99999');
    expect((await patch(a, 100_000, 250_000)).headers.get('range')).toBe('0-249999');
    const status = await fetch(`${b.url}${path}`);
    expect(status.status).toBe(204);
    expect(status.headers.get('range')).toBe('0-249999');
    // A chunk at the wrong offset is refused wherever it lands.
    expect((await patch(b, 100_000, 150_000)).status).toBe(416);
    const put = await fetch(withDigest(new URL(`${b.url}${path}`), digest), { method: 'PUT', body: data.subarray(250_000), headers: { 'content-type': 'application/octet-stream' } });
    expect(put.status).toBe(201);
    expect(put.headers.get('docker-content-digest')).toBe(digest);

    // B redirects; the presigned URL serves the bytes, and a Range sent there too.
    const redirect = await fetch(`${b.url}/v2/team/app/blobs/${digest}`, { redirect: 'manual' });
    expect(redirect.status).toBe(307);
    expect(redirect.headers.get('docker-content-digest')).toBe(digest);
    const location = redirect.headers.get('location')!;
    expect(location.startsWith(s3.endpoint)).toBe(true);
    expect(Buffer.from(await (await fetch(location)).arrayBuffer()).equals(data)).toBe(true);
    const ranged = await fetch(`${b.url}/v2/team/app/blobs/${digest}`, { headers: { range: 'bytes=1000-1999' } });
    expect(ranged.status).toBe(206);
    expect(Buffer.from(await ranged.arrayBuffer()).equals(data.subarray(1000, 2000))).toBe(true);
  });

  it('A streams blobs from the bucket, whole and ranged; a wrong digest leaves nothing under either digest', async () => {
    const data = randomBytes(2 * 1024 * 1024 + 17); // above the in-memory limit: temp key, verify, copy
    const digest = sha256(data);
    const put = await fetch(withDigest(await startUpload(a.url, 'streamed'), digest), { method: 'PUT', body: data, headers: { 'content-type': 'application/octet-stream' } });
    expect(put.status).toBe(201);
    const whole = await fetch(`${a.url}/v2/streamed/blobs/${digest}`);
    expect(whole.status).toBe(200);
    expect(whole.headers.get('content-length')).toBe(String(data.length));
    expect(Buffer.from(await whole.arrayBuffer()).equals(data)).toBe(true);
    const ranged = await fetch(`${a.url}/v2/streamed/blobs/${digest}`, { headers: { range: `bytes=${data.length - 100}-` } });
    expect(ranged.status).toBe(206);
    expect(Buffer.from(await ranged.arrayBuffer()).equals(data.subarray(data.length - 100))).toBe(true);

    const other = randomBytes(2 * 1024 * 1024 + 5);
    const claimed = sha256(Buffer.from('claimed'));
    const bad = await fetch(withDigest(await startUpload(a.url, 'streamed'), claimed), { method: 'PUT', body: other, headers: { 'content-type': 'application/octet-stream' } });
    expect(bad.status).toBe(400);
    expect(((await bad.json()) as { errors: Array<{ code: string }> }).errors[0]!.code).toBe('DIGEST_INVALID');
    const parsed = storageSchema.parse(s3.storage()).s3!;
    const store = new S3BlobStore(new S3Bucket(createS3Client(parsed, S3_ENV), parsed), false);
    expect(await store.stat(claimed as Digest)).toBeUndefined();
    expect(await store.stat(sha256(other) as Digest)).toBeUndefined();
  });
});

describe('pull-through cache on S3 storage', () => {
  let s3: RunningS3;
  let hub: FakeHub;
  let mirror: RunningRegistry;
  let image: BuiltImage;
  let layoutDir: string;

  beforeAll(async () => {
    s3 = await startS3();
    hub = await FakeHub.start();
    layoutDir = await tmpDir('hub-layout-');
    image = await (await OciLayout.create(layoutDir)).addImage({ layerSizes: [300_000, 20_000], seed: 's3-mirror' });
    await hub.addFromLayout(layoutDir, 'library/alpine', image.manifest.digest, '1');
    mirror = await startMirror(hub.url, {}, { env: S3_ENV }, { storage: s3.storage() });
  });
  afterAll(async () => {
    await mirror?.close();
    await hub?.stop();
    await s3?.close();
  });

  it('a fill is verified, uploaded into the bucket, and later pulls are served from it without upstream blob requests', async () => {
    const cold = await pullImage(mirror.url, 'library/alpine', '1');
    const layers = [image.config.digest, ...image.layers.map((l) => l.digest)];
    for (const d of layers) expect(cold.contents.get(d)?.equals(await readFile(join(layoutDir, 'blobs', 'sha256', d.slice(7))))).toBe(true);
    const parsed = storageSchema.parse(s3.storage()).s3!;
    const store = new S3BlobStore(new S3Bucket(createS3Client(parsed, S3_ENV), parsed), false);
    // The fill commits just after the last byte reached the client.
    for (let i = 0; i < 100 && (await Promise.all(layers.map((d) => store.stat(d as Digest)))).some((s) => !s); i++) await new Promise((r) => setTimeout(r, 50));
    for (const d of layers) expect(await store.stat(d as Digest)).toBeDefined();
    const blobRequests = () => hub.requests.filter((r) => r.method === 'GET' && r.path.includes('/blobs/')).length;
    const before = blobRequests();
    const warm = await pullImage(mirror.url, 'library/alpine', '1');
    for (const d of layers) expect(warm.contents.get(d)?.equals(cold.contents.get(d)!)).toBe(true);
    expect(blobRequests()).toBe(before);
  });
});
