import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { FakeHub } from '../../helpers/fake-hub.js';
import { startMirror } from '../../helpers/mirror.js';
import { errorCode, OCI_MANIFEST, pushImage, putManifest, sha256, type PushedImage } from '../../helpers/push.js';
import { startRegistry, type RunningRegistry } from '../../helpers/registry.js';
import { startUpload, withDigest } from '../../helpers/upload-session.js';

/**
 * Three places where the OCI Distribution spec and Distribution answer something particular (issue 9):
 * a reference that is neither tag nor digest, a closing PUT whose Content-Range is not at the upload's
 * end, and a blob request for a manifest's digest.
 */

let reg: RunningRegistry;
let hub: FakeHub;
let mirror: RunningRegistry;
let image: PushedImage;
const repo = 'edges/app';

beforeAll(async () => {
  reg = await startRegistry();
  image = await pushImage(reg.url, repo, 'v1', { seed: 'edges' });
  hub = await FakeHub.start();
  mirror = await startMirror(hub.url);
});
afterAll(async () => {
  await reg?.close();
  await mirror?.close();
  await hub?.stop();
});

// Neither a tag (grammar [a-zA-Z0-9_][a-zA-Z0-9._-]{0,127}) nor a digest (algorithm:hex of the right length).
const BAD_REFS = ['-dash-first', '.dot-first', 'x'.repeat(129), 'sha256:abc', `sha256:${'g'.repeat(64)}`, 'tag:with:colons'];

describe('a manifest reference that is neither a valid tag nor a valid digest', () => {
  it.each(BAD_REFS)('GET and HEAD %s → 404 MANIFEST_UNKNOWN', async (ref) => {
    const get = await fetch(`${reg.url}/v2/${repo}/manifests/${ref}`, { headers: { accept: OCI_MANIFEST } });
    expect(get.status).toBe(404);
    expect(await errorCode(get)).toBe('MANIFEST_UNKNOWN');
    const head = await fetch(`${reg.url}/v2/${repo}/manifests/${ref}`, { method: 'HEAD' });
    expect(head.status).toBe(404);
    expect(await head.text()).toBe('');
  });

  it.each(BAD_REFS)('PUT %s → 400 TAG_INVALID, nothing stored', async (ref) => {
    const res = await putManifest(reg.url, repo, ref, image.body, OCI_MANIFEST);
    expect(res.status).toBe(400);
    expect(await errorCode(res)).toBe('TAG_INVALID');
  });

  it('on a mirrored name too, without asking the upstream', async () => {
    const before = hub.requests.length;
    const res = await fetch(`${mirror.url}/v2/library/alpine/manifests/-bad`);
    expect(res.status).toBe(404);
    expect(await errorCode(res)).toBe('MANIFEST_UNKNOWN');
    expect(hub.requests.length).toBe(before);
  });
});

describe('a closing PUT with a body whose Content-Range does not start at the upload size', () => {
  const data = Buffer.from('0123456789abcdefghij');
  const digest = sha256(data);

  async function put(location: URL, range: string, body: Uint8Array<ArrayBuffer>) {
    return fetch(withDigest(location, digest), {
      method: 'PUT',
      headers: { 'content-type': 'application/octet-stream', 'content-range': range, 'content-length': String(body.length) },
      body,
    });
  }

  it('answers 416 RANGE_INVALID with Location and Range; the upload stays usable', async () => {
    const location = await startUpload(reg.url, repo);
    const patch = await fetch(location, {
      method: 'PATCH',
      headers: { 'content-type': 'application/octet-stream', 'content-range': '0-9', 'content-length': '10' },
      body: data.subarray(0, 10),
    });
    expect(patch.status).toBe(202);
    expect(patch.headers.get('range')).toBe('0-9');

    for (const range of ['5-14', '11-20', '0-9']) {
      const bad = await put(location, range, data.subarray(10));
      expect(bad.status, range).toBe(416);
      expect(new URL(bad.headers.get('location')!, reg.url).pathname).toBe(location.pathname);
      expect(bad.headers.get('range')).toBe('0-9');
      expect(await errorCode(bad)).toBe('RANGE_INVALID');
    }
    // Nothing was appended: the session is where it was.
    const status = await fetch(location);
    expect(status.status).toBe(204);
    expect(status.headers.get('range')).toBe('0-9');

    const good = await put(location, '10-19', data.subarray(10));
    expect(good.status).toBe(201);
    expect(good.headers.get('docker-content-digest')).toBe(digest);
    const blob = await fetch(`${reg.url}/v2/${repo}/blobs/${digest}`);
    expect(Buffer.from(await blob.arrayBuffer()).equals(data)).toBe(true);
  });
});

describe("a blob request for a manifest's digest", () => {
  it('GET returns the manifest bytes, HEAD its size, a Range its slice', async () => {
    const d = image.manifest.digest;
    const get = await fetch(`${reg.url}/v2/${repo}/blobs/${d}`);
    expect(get.status).toBe(200);
    expect(get.headers.get('docker-content-digest')).toBe(d);
    expect(Buffer.from(await get.arrayBuffer()).equals(image.body)).toBe(true);

    const head = await fetch(`${reg.url}/v2/${repo}/blobs/${d}`, { method: 'HEAD' });
    expect(head.status).toBe(200);
    expect(head.headers.get('content-length')).toBe(String(image.body.length));

    const part = await fetch(`${reg.url}/v2/${repo}/blobs/${d}`, { headers: { range: 'bytes=2-9' } });
    expect(part.status).toBe(206);
    expect(Buffer.from(await part.arrayBuffer()).equals(image.body.subarray(2, 10))).toBe(true);
  });

  it('only in the repository that holds the manifest; unknown digests stay BLOB_UNKNOWN', async () => {
    const other = await fetch(`${reg.url}/v2/edges/other/blobs/${image.manifest.digest}`);
    expect(other.status).toBe(404);
    expect(await errorCode(other)).toBe('BLOB_UNKNOWN');
    const unknown = await fetch(`${reg.url}/v2/${repo}/blobs/sha256:${'3'.repeat(64)}`);
    expect(unknown.status).toBe(404);
    expect(await errorCode(unknown)).toBe('BLOB_UNKNOWN');
  });
});
