import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { basic, quickHash } from '../../helpers/auth.js';
import { FakeHub } from '../../helpers/fake-hub.js';
import { startMirror } from '../../helpers/mirror.js';
import { OCI_INDEX, OCI_MANIFEST } from '../../helpers/push.js';
import { makeImage, pullImage, pushPreparedImage, type PreparedImage } from '../../helpers/push-image.js';
import type { RunningRegistry } from '../../helpers/registry.js';

/**
 * One address as Docker Hub mirror (a `default: true` upstream) and private registry: names under
 * `hostedNamespaces` are hosted only, and never reach the upstream; with `allowHostedShadow`, a name
 * holding pushed content is served from the hosted side only.
 */

const ACCEPT = `${OCI_MANIFEST}, ${OCI_INDEX}`;

function addToHub(hub: FakeHub, image: PreparedImage): void {
  for (const b of image.blobs) hub.addBlob(b.data);
  hub.addManifest(image.repo, OCI_MANIFEST, image.manifest, image.tag);
}

async function status(url: string, init: RequestInit = {}): Promise<{ status: number; code?: string; message?: string }> {
  const res = await fetch(url, { ...init, headers: { accept: ACCEPT, ...(init.headers as Record<string, string> | undefined) } });
  const text = await res.text();
  const error = text.startsWith('{') ? (JSON.parse(text) as { errors?: Array<{ code: string; message: string }> }).errors?.[0] : undefined;
  return { status: res.status, code: error?.code, message: error?.message };
}

describe('hostedNamespaces beside a default (Docker Hub) upstream', () => {
  let hub: FakeHub;
  let mirror: RunningRegistry;
  const upstreamImage = makeImage('library/alpinex', '1');

  beforeAll(async () => {
    hub = await FakeHub.start();
    addToHub(hub, upstreamImage);
    // Also on the upstream: a hosted namespace must not be served from there even when the name exists.
    addToHub(hub, makeImage('acme/app', '2'));
    mirror = await startMirror(hub.url, { prefix: undefined }, {}, { hostedNamespaces: ['acme/', 'internal'] });
  });
  afterAll(async () => {
    await mirror?.close();
    await hub?.stop();
  });

  it('pushes and pulls a hosted name; misses are 404 at once with zero upstream requests', async () => {
    const image = makeImage('acme/app', '1');
    const before = hub.requests.length;
    await pushPreparedImage(mirror.url, image);
    expect((await pullImage(mirror.url, 'acme/app', '1')).manifest.equals(image.manifest)).toBe(true);
    await pushPreparedImage(mirror.url, makeImage('internal/tools/x', 'v1'));

    const missing = [
      `/v2/acme/app/manifests/2`, // exists upstream under the same name: still not looked up
      `/v2/acme/app/manifests/sha256:${'0'.repeat(64)}`,
      `/v2/acme/app/blobs/sha256:${'1'.repeat(64)}`,
      `/v2/acme/nothere/tags/list`,
      `/v2/acme/app/manifests/2?ns=docker.io`, // containerd's hint names the default upstream: hosted still wins
    ];
    for (const path of missing) expect((await status(`${mirror.url}${path}`)).status, path).toBe(404);
    expect((await status(`${mirror.url}/v2/acme/app/manifests/2`)).code).toBe('MANIFEST_UNKNOWN');
    expect((await status(`${mirror.url}/v2/acme/app/manifests/2`, { method: 'HEAD' })).status).toBe(404);
    expect(hub.requests.slice(before)).toEqual([]);
  });

  it('every other name keeps the mirror rules: pulled through, and pushes refused naming both settings', async () => {
    const before = hub.count({ server: 'hub', method: 'GET', pathIncludes: '/manifests/' });
    const pulled = await pullImage(mirror.url, 'library/alpinex', '1');
    expect(pulled.manifest.equals(upstreamImage.manifest)).toBe(true);
    // Fetched upstream (a 401 challenge, then with a token).
    expect(hub.count({ server: 'hub', method: 'GET', pathIncludes: '/manifests/' })).toBeGreaterThan(before);

    const refused = await status(`${mirror.url}/v2/other/app/blobs/uploads/`, { method: 'POST' });
    expect(refused.status).toBe(403);
    expect(refused.code).toBe('DENIED');
    expect(refused.message).toContain("add 'other/' to hostedNamespaces");
    expect(refused.message).toContain('allowHostedShadow: true on upstream hub');
    // 'acmecorp/…' is not under 'acme/'.
    expect((await status(`${mirror.url}/v2/acmecorp/app/blobs/uploads/`, { method: 'POST' })).status).toBe(403);
  });
});

describe('allowHostedShadow: a name with pushed content is served from the hosted side only', () => {
  let hub: FakeHub;
  let mirror: RunningRegistry;

  beforeAll(async () => {
    hub = await FakeHub.start();
    addToHub(hub, makeImage('library/mine', 'v2'));
    addToHub(hub, makeImage('library/theirs', 'v1'));
    mirror = await startMirror(hub.url, { allowHostedShadow: true });
  });
  afterAll(async () => {
    await mirror?.close();
    await hub?.stop();
  });

  it('a missing tag of a shadowed name is a 404 without an upstream lookup; unshadowed names still mirror', async () => {
    await pushPreparedImage(mirror.url, makeImage('library/mine', 'v1'));
    const before = hub.requests.length;
    for (const name of ['library/mine', 'mine', 'docker.io/library/mine']) {
      const missing = await status(`${mirror.url}/v2/${name}/manifests/v2`);
      expect(missing.status, name).toBe(404);
      expect(missing.code).toBe('MANIFEST_UNKNOWN');
    }
    expect((await status(`${mirror.url}/v2/library/mine/blobs/sha256:${'2'.repeat(64)}`, { method: 'HEAD' })).status).toBe(404);
    expect(hub.requests.slice(before)).toEqual([]);
    await pullImage(mirror.url, 'library/theirs', 'v1');
    expect(hub.count({ server: 'hub', method: 'GET', path: '/v2/library/theirs/manifests/v1' })).toBeGreaterThan(0);
  });
});

describe('access control composes: hosted namespaces private, mirrored content public', () => {
  let hub: FakeHub;
  let mirror: RunningRegistry;
  const alice = basic('alice', 'alice-password');

  beforeAll(async () => {
    hub = await FakeHub.start();
    addToHub(hub, makeImage('library/alpinex', '1'));
    mirror = await startMirror(hub.url, {}, {}, {
      hostedNamespaces: ['acme/'],
      auth: {
        enabled: true,
        mirrorVisibility: 'public',
        users: [{ name: 'alice', passwordHash: quickHash('alice-password'), access: [{ namespace: 'acme/', scopes: ['read', 'write'] }] }],
      },
    });
  });
  afterAll(async () => {
    await mirror?.close();
    await hub?.stop();
  });

  it('anonymous pulls of mirrored names, credentials for the hosted namespace', async () => {
    await pullImage(mirror.url, 'library/alpinex', '1');
    await pushPreparedImage(mirror.url, makeImage('acme/app', '1'), { authorization: alice });
    expect((await status(`${mirror.url}/v2/acme/app/manifests/1`)).status).toBe(401);
    expect((await status(`${mirror.url}/v2/acme/app/manifests/1`, { headers: { authorization: alice } })).status).toBe(200);
    // alice's access is acme/ only: mirrored names are readable to her as to anyone, not writable.
    expect((await status(`${mirror.url}/v2/library/alpinex/blobs/uploads/`, { method: 'POST', headers: { authorization: alice } })).status).toBe(403);
  });
});
