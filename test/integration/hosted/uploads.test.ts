import { randomBytes } from 'node:crypto';
import { readdir } from 'node:fs/promises';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { errorCode, listFiles, sha256, sha512 } from '../../helpers/push.js';
import { startRegistry, type RunningRegistry } from '../../helpers/registry.js';
import { startUpload, storedBlob, withDigest } from '../../helpers/upload-session.js';

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;

describe('blob uploads', () => {
  let reg: RunningRegistry;
  const repo = 'acme/uploads';

  beforeAll(async () => {
    reg = await startRegistry();
  });
  afterAll(async () => {
    await reg.close();
  });

  async function blobsOnDisk(): Promise<string[]> {
    return (await listFiles(join(reg.dataDir, 'blobs'))).concat(await readdir(join(reg.dataDir, 'tmp')));
  }

  it('POST starts a session: 202, Location under the repository, Range 0-0, Docker-Upload-UUID', async () => {
    const res = await fetch(`${reg.url}/v2/${repo}/blobs/uploads/`, { method: 'POST' });
    expect(res.status).toBe(202);
    const location = res.headers.get('location')!;
    expect(location).toMatch(new RegExp(`/v2/${repo}/blobs/uploads/[0-9a-f-]{36}$`));
    expect(res.headers.get('docker-upload-uuid')).toMatch(UUID);
    expect(res.headers.get('range')).toBe('0-0');
  });

  it('monolithic POST + PUT: 201 with Location and Docker-Content-Digest; bytes on disk', async () => {
    const data = randomBytes(50_000);
    const d = sha256(data);
    const location = await startUpload(reg.url, repo);
    const res = await fetch(withDigest(location, d), { method: 'PUT', body: data, headers: { 'Content-Type': 'application/octet-stream' } });
    expect(res.status).toBe(201);
    expect(res.headers.get('location')).toBe(`/v2/${repo}/blobs/${d}`);
    expect(res.headers.get('docker-content-digest')).toBe(d);
    expect(await storedBlob(reg.dataDir, d)).toEqual(data);
    expect((await fetch(`${reg.url}/v2/${repo}/blobs/${d}`, { method: 'HEAD' })).status).toBe(200);
    // The session is gone once finished.
    const status = await fetch(location);
    expect(status.status).toBe(404);
    expect(await errorCode(status)).toBe('BLOB_UPLOAD_UNKNOWN');
  });

  it('single POST ?digest= stores the blob: 201', async () => {
    const data = randomBytes(10_000);
    const d = sha256(data);
    const res = await fetch(`${reg.url}/v2/${repo}/blobs/uploads/?digest=${d}`, { method: 'POST', body: data });
    expect(res.status).toBe(201);
    expect(res.headers.get('location')).toBe(`/v2/${repo}/blobs/${d}`);
    expect(res.headers.get('docker-content-digest')).toBe(d);
    expect(await storedBlob(reg.dataDir, d)).toEqual(data);
  });

  it('a zero-byte blob can be pushed', async () => {
    const d = sha256('');
    const location = await startUpload(reg.url, repo);
    expect((await fetch(withDigest(location, d), { method: 'PUT' })).status).toBe(201);
    const got = await fetch(`${reg.url}/v2/${repo}/blobs/${d}`);
    expect(got.status).toBe(200);
    expect(got.headers.get('content-length')).toBe('0');
  });

  describe('digest verification: mismatch is DIGEST_INVALID and nothing is stored', () => {
    it.each([
      ['sha256', sha256],
      ['sha512', sha512],
    ])('single POST with a wrong %s digest', async (_alg, hash) => {
      const data = randomBytes(5000);
      const wrong = hash('not the content');
      const before = await blobsOnDisk();
      const res = await fetch(`${reg.url}/v2/${repo}/blobs/uploads/?digest=${wrong}`, { method: 'POST', body: data });
      expect(res.status).toBe(400);
      expect(await errorCode(res)).toBe('DIGEST_INVALID');
      expect(await blobsOnDisk()).toEqual(before);
      expect(await storedBlob(reg.dataDir, hash(data))).toBeUndefined();
      expect((await fetch(`${reg.url}/v2/${repo}/blobs/${wrong}`, { method: 'HEAD' })).status).toBe(404);
    });

    it.each([
      ['sha256', sha256],
      ['sha512', sha512],
    ])('monolithic PUT with a wrong %s digest', async (_alg, hash) => {
      const data = randomBytes(5000);
      const wrong = hash('not the content either');
      const location = await startUpload(reg.url, repo);
      const before = await blobsOnDisk();
      const res = await fetch(withDigest(location, wrong), { method: 'PUT', body: data });
      expect(res.status).toBe(400);
      expect(await errorCode(res)).toBe('DIGEST_INVALID');
      expect(await blobsOnDisk()).toEqual(before);
      expect(await storedBlob(reg.dataDir, hash(data))).toBeUndefined();
    });

    it('chunked upload finished with a wrong sha512 digest', async () => {
      const location = await startUpload(reg.url, repo);
      const patch = await fetch(location, { method: 'PATCH', body: Buffer.from('chunk'), headers: { 'Content-Range': '0-4' } });
      expect(patch.status).toBe(202);
      const wrong = sha512('chunky');
      const before = await blobsOnDisk();
      const res = await fetch(withDigest(new URL(patch.headers.get('location')!, reg.url), wrong), { method: 'PUT' });
      expect(res.status).toBe(400);
      expect(await errorCode(res)).toBe('DIGEST_INVALID');
      expect(await blobsOnDisk()).toEqual(before);
    });

    it.each(['sha256:1234', 'nonsense', `sha384:${'a'.repeat(96)}`])('a malformed digest %s is DIGEST_INVALID', async (bad) => {
      const post = await fetch(`${reg.url}/v2/${repo}/blobs/uploads/?digest=${bad}`, { method: 'POST', body: 'x' });
      expect(post.status).toBe(400);
      expect(await errorCode(post)).toBe('DIGEST_INVALID');
      const location = await startUpload(reg.url, repo);
      const put = await fetch(withDigest(location, bad), { method: 'PUT', body: 'x' });
      expect(put.status).toBe(400);
      expect(await errorCode(put)).toBe('DIGEST_INVALID');
    });

    it('PUT without ?digest= is DIGEST_INVALID', async () => {
      const location = await startUpload(reg.url, repo);
      const res = await fetch(location, { method: 'PUT', body: 'abc' });
      expect(res.status).toBe(400);
      expect(await errorCode(res)).toBe('DIGEST_INVALID');
    });
  });

  describe('chunked PATCH uploads', () => {
    it('chunks with Content-Range advance Range and Location; GET status is 204; PUT finishes with the last chunk', async () => {
      const data = randomBytes(30_000);
      const d = sha256(data);
      let location = await startUpload(reg.url, repo);

      const first = await fetch(location, { method: 'PATCH', body: data.subarray(0, 10_000), headers: { 'Content-Range': '0-9999', 'Content-Type': 'application/octet-stream' } });
      expect(first.status).toBe(202);
      expect(first.headers.get('range')).toBe('0-9999');
      expect(first.headers.get('location')).toBe(location.pathname);
      location = new URL(first.headers.get('location')!, reg.url);

      const status = await fetch(location);
      expect(status.status).toBe(204);
      expect(status.headers.get('range')).toBe('0-9999');
      expect(status.headers.get('location')).toBe(location.pathname);

      // A chunk without Content-Range is appended at the end (streamed PATCH).
      const second = await fetch(location, { method: 'PATCH', body: data.subarray(10_000, 20_000) });
      expect(second.status).toBe(202);
      expect(second.headers.get('range')).toBe('0-19999');

      const put = await fetch(withDigest(location, d), { method: 'PUT', body: data.subarray(20_000), headers: { 'Content-Range': '20000-29999' } });
      expect(put.status).toBe(201);
      expect(put.headers.get('docker-content-digest')).toBe(d);
      expect(await storedBlob(reg.dataDir, d)).toEqual(data);
    });

    it('PUT with no body finishes what the PATCHes sent', async () => {
      const data = randomBytes(2048);
      const location = await startUpload(reg.url, repo);
      expect((await fetch(location, { method: 'PATCH', body: data.subarray(0, 1024), headers: { 'Content-Range': '0-1023' } })).status).toBe(202);
      expect((await fetch(location, { method: 'PATCH', body: data.subarray(1024), headers: { 'Content-Range': '1024-2047' } })).status).toBe(202);
      const put = await fetch(withDigest(location, sha256(data)), { method: 'PUT', headers: { 'Content-Length': '0' } });
      expect(put.status).toBe(201);
      expect(await storedBlob(reg.dataDir, sha256(data))).toEqual(data);
    });

    it.each([
      ['out of order (a gap)', '200-299'],
      ['a repeated chunk', '0-99'],
      ['an overlapping chunk', '50-149'],
    ])('%s is 416 with the current Range and Location, and the upload is unchanged', async (_label, contentRange) => {
      const data = randomBytes(100);
      const location = await startUpload(reg.url, repo);
      expect((await fetch(location, { method: 'PATCH', body: data, headers: { 'Content-Range': '0-99' } })).status).toBe(202);
      const bad = await fetch(location, { method: 'PATCH', body: randomBytes(100), headers: { 'Content-Range': contentRange } });
      expect(bad.status).toBe(416);
      expect(bad.headers.get('range')).toBe('0-99');
      expect(bad.headers.get('location')).toBe(location.pathname);
      expect(await errorCode(bad)).toBe('RANGE_INVALID');
      const status = await fetch(location);
      expect(status.status).toBe(204);
      expect(status.headers.get('range')).toBe('0-99');
      // The session still finishes with the original bytes.
      expect((await fetch(withDigest(location, sha256(data)), { method: 'PUT' })).status).toBe(201);
    });

    it.each([
      ['a Content-Range that disagrees with Content-Length', '0-9'],
      ['a malformed Content-Range', 'garbage'],
    ])('%s is 416 with the current Range and Location', async (_label, contentRange) => {
      const location = await startUpload(reg.url, repo);
      expect((await fetch(location, { method: 'PATCH', body: Buffer.alloc(20), headers: { 'Content-Range': '0-19' } })).status).toBe(202);
      const bad = await fetch(location, { method: 'PATCH', body: Buffer.alloc(5), headers: { 'Content-Range': contentRange } });
      expect(bad.status).toBe(416);
      expect(await errorCode(bad)).toBe('RANGE_INVALID');
      expect(bad.headers.get('range')).toBe('0-19');
      expect(bad.headers.get('location')).toBe(location.pathname);
    });
  });
});
