import { randomBytes } from 'node:crypto';
import { readdir } from 'node:fs/promises';
import { request } from 'node:http';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { errorCode, pushBlob, sha256 } from '../../helpers/push.js';
import { startRegistry, type RunningRegistry } from '../../helpers/registry.js';
import { startUpload, storedBlob, withDigest } from '../../helpers/upload-session.js';

describe('upload sessions and cross-repository mount', () => {
  let reg: RunningRegistry;
  const repo = 'acme/sessions';

  beforeAll(async () => {
    reg = await startRegistry();
  });
  afterAll(async () => {
    await reg.close();
  });

  describe('session management', () => {
    it('DELETE cancels an upload: 204, then the session is BLOB_UPLOAD_UNKNOWN', async () => {
      const location = await startUpload(reg.url, repo);
      await fetch(location, { method: 'PATCH', body: Buffer.from('partial') });
      const id = location.pathname.split('/').pop()!;
      const del = await fetch(location, { method: 'DELETE' });
      expect(del.status).toBe(204);
      for (const method of ['GET', 'PATCH', 'PUT', 'DELETE']) {
        const url = method === 'PUT' ? withDigest(location, sha256('partial')) : location;
        const res = await fetch(url, { method, body: method === 'PATCH' || method === 'PUT' ? 'x' : undefined });
        expect(res.status, method).toBe(404);
        expect(await errorCode(res)).toBe('BLOB_UPLOAD_UNKNOWN');
      }
      expect(await readdir(join(reg.dataDir, 'uploads'))).not.toContain(id);
    });

    it.each([
      ['a random uuid', '6f1c2d3e-4a5b-4c6d-8e9f-0a1b2c3d4e5f'],
      ['not a uuid', 'not-an-upload'],
      ['an encoded traversal', '..%2F..%2Ftmp'],
      ['a long string', 'x'.repeat(300)],
    ])('bogus upload id (%s) is 404 BLOB_UPLOAD_UNKNOWN for GET, PATCH, PUT and DELETE', async (_label, id) => {
      const base = `${reg.url}/v2/${repo}/blobs/uploads/${id}`;
      for (const [method, url] of [
        ['GET', base],
        ['PATCH', base],
        ['PUT', `${base}?digest=${sha256('x')}`],
        ['DELETE', base],
      ] as const) {
        const res = await fetch(url, { method, body: method === 'PATCH' || method === 'PUT' ? 'x' : undefined });
        expect(res.status, `${method} ${id}`).toBe(404);
        expect(await errorCode(res)).toBe('BLOB_UPLOAD_UNKNOWN');
      }
    });

    it('a PATCH cut off mid-body keeps what arrived; the client resumes from the reported Range', async () => {
      const data = randomBytes(256 * 1024);
      const location = await startUpload(reg.url, repo);
      // Send the headers for the whole chunk, half the bytes, then drop the connection.
      await new Promise<void>((resolve) => {
        const req = request({
          host: '127.0.0.1',
          port: reg.port,
          method: 'PATCH',
          path: location.pathname,
          headers: { 'Content-Length': data.length, 'Content-Range': `0-${data.length - 1}` },
        });
        req.on('error', () => resolve());
        req.write(data.subarray(0, 100 * 1024), () => setTimeout(() => req.destroy(), 100));
        req.on('close', () => resolve());
      });
      await new Promise((r) => setTimeout(r, 100));
      const status = await fetch(location);
      expect(status.status).toBe(204);
      const range = /^0-(\d+)$/.exec(status.headers.get('range')!);
      expect(range).toBeTruthy();
      const received = Number(range![1]) + (Number(range![1]) === 0 ? 0 : 1);
      expect(received).toBeLessThanOrEqual(100 * 1024);
      const rest = await fetch(location, { method: 'PATCH', body: data.subarray(received), headers: { 'Content-Range': `${received}-${data.length - 1}` } });
      expect(rest.status).toBe(202);
      expect(rest.headers.get('range')).toBe(`0-${data.length - 1}`);
      const put = await fetch(withDigest(location, sha256(data)), { method: 'PUT' });
      expect(put.status).toBe(201);
      expect(await storedBlob(reg.dataDir, sha256(data))).toEqual(data);
    });

    it('a bad Content-Range on an unknown upload is BLOB_UPLOAD_UNKNOWN, not a range error', async () => {
      const res = await fetch(`${reg.url}/v2/${repo}/blobs/uploads/6f1c2d3e-4a5b-4c6d-8e9f-0a1b2c3d4e5f`, {
        method: 'PATCH',
        body: 'abc',
        headers: { 'Content-Range': 'nonsense' },
      });
      expect(res.status).toBe(404);
      expect(await errorCode(res)).toBe('BLOB_UPLOAD_UNKNOWN');
    });

    it("another repository's upload id is BLOB_UPLOAD_UNKNOWN here", async () => {
      const location = await startUpload(reg.url, 'acme/owner');
      const id = location.pathname.split('/').pop()!;
      const res = await fetch(`${reg.url}/v2/${repo}/blobs/uploads/${id}`, { method: 'PATCH', body: 'x' });
      expect(res.status).toBe(404);
      expect(await errorCode(res)).toBe('BLOB_UPLOAD_UNKNOWN');
      expect((await fetch(location)).status).toBe(204);
    });

    it('concurrent uploads of the same blob both succeed and leave one intact blob', async () => {
      const data = randomBytes(512 * 1024);
      const d = sha256(data);
      const results = await Promise.all(
        Array.from({ length: 4 }, async (_v, i) => {
          if (i % 2 === 0) return fetch(`${reg.url}/v2/acme/race${i}/blobs/uploads/?digest=${d}`, { method: 'POST', body: data });
          const location = await startUpload(reg.url, `acme/race${i}`);
          return fetch(withDigest(location, d), { method: 'PUT', body: data });
        }),
      );
      expect(results.map((r) => r.status)).toEqual([201, 201, 201, 201]);
      expect(await storedBlob(reg.dataDir, d)).toEqual(data);
      for (let i = 0; i < 4; i++) expect((await fetch(`${reg.url}/v2/acme/race${i}/blobs/${d}`, { method: 'HEAD' })).status).toBe(200);
    });
  });

  describe('cross-repository mount', () => {
    it('mounts a blob the source holds: 201 with Location and Docker-Content-Digest, no upload', async () => {
      const src = await pushBlob(reg.url, 'acme/source', 'mount me');
      const res = await fetch(`${reg.url}/v2/acme/target/blobs/uploads/?mount=${src.digest}&from=acme/source`, { method: 'POST' });
      expect(res.status).toBe(201);
      expect(res.headers.get('location')).toBe(`/v2/acme/target/blobs/${src.digest}`);
      expect(res.headers.get('docker-content-digest')).toBe(src.digest);
      const got = await fetch(`${reg.url}/v2/acme/target/blobs/${src.digest}`);
      expect(got.status).toBe(200);
      expect(await got.text()).toBe('mount me');
    });

    it.each([
      ['the source lacks the blob', `mount=${sha256('nowhere')}&from=acme/source`],
      ['the source repository does not exist', `mount=${sha256('mount me')}&from=acme/ghost`],
      ['the source name is invalid', `mount=${sha256('mount me')}&from=../acme/source`],
      ['from is missing', `mount=${sha256('mount me')}`],
      // Spec, "Mounting a blob": unable to mount → 202 (end-11 lists no 400); Distribution 2.8 agrees.
      ['the mount digest is malformed', 'mount=sha256:zz&from=acme/source'],
    ])('falls back to a new upload session (202 with Location) when %s', async (_label, query) => {
      await pushBlob(reg.url, 'acme/source', 'mount me');
      const res = await fetch(`${reg.url}/v2/acme/fallback/blobs/uploads/?${query}`, { method: 'POST' });
      expect(res.status).toBe(202);
      const location = new URL(res.headers.get('location')!, reg.url);
      expect(location.pathname).toMatch(/^\/v2\/acme\/fallback\/blobs\/uploads\/[0-9a-f-]{36}$/);
      expect((await fetch(location)).status).toBe(204);
      expect((await fetch(`${reg.url}/v2/acme/fallback/blobs/${sha256('nowhere')}`, { method: 'HEAD' })).status).toBe(404);
    });
  });
});
