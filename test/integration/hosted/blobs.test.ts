import { randomBytes } from 'node:crypto';
import { access } from 'node:fs/promises';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { blobPath, errorCode, pushBlob, sha256, sha512 } from '../../helpers/push.js';
import { startRegistry, type RunningRegistry } from '../../helpers/registry.js';

describe('blobs: GET, HEAD, Range, DELETE', () => {
  let reg: RunningRegistry;
  const repo = 'acme/team/blobs';
  const data = randomBytes(100_000);
  const digest = sha256(data);

  beforeAll(async () => {
    reg = await startRegistry();
    await pushBlob(reg.url, repo, data);
  });
  afterAll(async () => {
    await reg.close();
  });

  const blobUrl = (d: string, r = repo) => `${reg.url}/v2/${r}/blobs/${d}`;

  it('GET returns the bytes with Docker-Content-Digest and Content-Length', async () => {
    const res = await fetch(blobUrl(digest));
    expect(res.status).toBe(200);
    expect(res.headers.get('docker-content-digest')).toBe(digest);
    expect(res.headers.get('content-length')).toBe(String(data.length));
    expect(res.headers.get('accept-ranges')).toBe('bytes');
    expect(Buffer.from(await res.arrayBuffer())).toEqual(data);
  });

  it('HEAD has the same headers and no body', async () => {
    const res = await fetch(blobUrl(digest), { method: 'HEAD' });
    expect(res.status).toBe(200);
    expect(res.headers.get('docker-content-digest')).toBe(digest);
    expect(res.headers.get('content-length')).toBe(String(data.length));
    expect((await res.arrayBuffer()).byteLength).toBe(0);
  });

  it('an unknown blob is 404 BLOB_UNKNOWN; HEAD 404 without a body', async () => {
    const res = await fetch(blobUrl(sha256('absent')));
    expect(res.status).toBe(404);
    expect(await errorCode(res)).toBe('BLOB_UNKNOWN');
    const head = await fetch(blobUrl(sha256('absent')), { method: 'HEAD' });
    expect(head.status).toBe(404);
    expect(await head.text()).toBe('');
  });

  it('a blob pushed to another repository is not visible here', async () => {
    const res = await fetch(blobUrl(digest, 'acme/not-this-one'));
    expect(res.status).toBe(404);
    expect(await errorCode(res)).toBe('BLOB_UNKNOWN');
  });

  it.each([
    ['sha256:abc'],
    ['sha256:' + 'A'.repeat(64)],
    ['md5:' + 'a'.repeat(32)],
    ['notadigest'],
  ])('a malformed digest %s is 400 DIGEST_INVALID', async (d) => {
    const res = await fetch(blobUrl(d));
    expect(res.status).toBe(400);
    expect(await errorCode(res)).toBe('DIGEST_INVALID');
  });

  it('sha512 blobs are stored and served', async () => {
    const bytes = randomBytes(3000);
    const d = sha512(bytes);
    const res = await fetch(`${reg.url}/v2/${repo}/blobs/uploads/?digest=${d}`, { method: 'POST', body: bytes });
    expect(res.status).toBe(201);
    const got = await fetch(blobUrl(d));
    expect(got.status).toBe(200);
    expect(got.headers.get('docker-content-digest')).toBe(d);
    expect(Buffer.from(await got.arrayBuffer())).toEqual(bytes);
  });

  describe('Range', () => {
    it.each([
      ['bytes=0-99', 0, 99],
      ['bytes=1000-1999', 1000, 1999],
      ['bytes=99990-', 99990, 99999],
      ['bytes=99990-200000', 99990, 99999],
      ['bytes=-10', 99990, 99999],
      ['bytes=-200000', 0, 99999],
    ])('%s is 206 with Content-Range and exactly those bytes', async (range, start, end) => {
      const res = await fetch(blobUrl(digest), { headers: { Range: range } });
      expect(res.status).toBe(206);
      expect(res.headers.get('content-range')).toBe(`bytes ${start}-${end}/${data.length}`);
      expect(res.headers.get('content-length')).toBe(String(end - start + 1));
      expect(res.headers.get('docker-content-digest')).toBe(digest);
      expect(Buffer.from(await res.arrayBuffer())).toEqual(data.subarray(start, end + 1));
    });

    it.each(['bytes=100000-', 'bytes=200000-300000', 'bytes=50-10', 'bytes=-0', 'bytes=x-y', 'pages=0-1'])(
      '%s is 416 RANGE_INVALID with Content-Range bytes */size',
      async (range) => {
        const res = await fetch(blobUrl(digest), { headers: { Range: range } });
        expect(res.status).toBe(416);
        expect(res.headers.get('content-range')).toBe(`bytes */${data.length}`);
        expect(await errorCode(res)).toBe('RANGE_INVALID');
      },
    );
  });

  describe('DELETE', () => {
    it('removes the blob from the repository (202), then GET/HEAD are 404', async () => {
      const bytes = Buffer.from('to be deleted');
      const d = (await pushBlob(reg.url, repo, bytes)).digest;
      const del = await fetch(blobUrl(d), { method: 'DELETE' });
      expect(del.status).toBe(202);
      expect((await fetch(blobUrl(d), { method: 'HEAD' })).status).toBe(404);
      const get = await fetch(blobUrl(d));
      expect(get.status).toBe(404);
      expect(await errorCode(get)).toBe('BLOB_UNKNOWN');
      const again = await fetch(blobUrl(d), { method: 'DELETE' });
      expect(again.status).toBe(404);
      expect(await errorCode(again)).toBe('BLOB_UNKNOWN');
    });

    it('deleting from one repository leaves another repository that shares the content intact', async () => {
      const bytes = Buffer.from('shared content');
      const d = (await pushBlob(reg.url, 'acme/one', bytes)).digest;
      await pushBlob(reg.url, 'acme/two', bytes);
      expect((await fetch(blobUrl(d, 'acme/one'), { method: 'DELETE' })).status).toBe(202);
      const other = await fetch(blobUrl(d, 'acme/two'));
      expect(other.status).toBe(200);
      expect(Buffer.from(await other.arrayBuffer())).toEqual(bytes);
      await access(blobPath(reg.dataDir, d));
    });
  });
});
