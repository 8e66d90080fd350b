import { request } from 'node:http';
import { readdir, rm } from 'node:fs/promises';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { OCI_MANIFEST, errorCode, listFiles, pushImage, sha256 } from '../../helpers/push.js';
import { startRegistry, tmpDir, type RunningRegistry } from '../../helpers/registry.js';

/** Sends a path exactly as written: fetch and URL would normalise '..' and '%2e%2e' away before we see them. */
function rawRequest(port: number, method: string, path: string, body?: string): Promise<{ status: number; body: string }> {
  return new Promise((resolve, reject) => {
    const req = request({ host: '127.0.0.1', port, method, path, headers: body === undefined ? {} : { 'Content-Length': Buffer.byteLength(body) } }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body: Buffer.concat(chunks).toString('utf8') }));
    });
    req.on('error', reject);
    req.end(body);
  });
}

function codeIn(body: string): string | undefined {
  try {
    return (JSON.parse(body) as { errors?: Array<{ code?: string }> }).errors?.[0]?.code;
  } catch {
    return undefined;
  }
}

describe('repository names', () => {
  let reg: RunningRegistry;
  let parent: string;

  beforeAll(async () => {
    // The data folder sits alone inside a parent folder, so anything written beside it is an escape.
    parent = await tmpDir('names-');
    reg = await startRegistry({}, { dataDir: join(parent, 'data') });
  });
  afterAll(async () => {
    await reg.close();
    await rm(parent, { recursive: true, force: true });
  });

  it.each(['app', 'myorg/app', 'myorg/team/app', 'a/b/c/d/e/f/g/h', 'my-org.io/sub_team/app__x'])('%s works for push, pull and listing', async (name) => {
    const image = await pushImage(reg.url, name, 'latest', { seed: name });
    const res = await fetch(`${reg.url}/v2/${name}/manifests/latest`, { headers: { Accept: OCI_MANIFEST } });
    expect(res.status).toBe(200);
    expect(res.headers.get('docker-content-digest')).toBe(image.manifest.digest);
    const blob = await fetch(`${reg.url}/v2/${name}/blobs/${image.layers[0]!.digest}`);
    expect(await blob.text()).toBe(`layer of ${name}`);
    expect(await (await fetch(`${reg.url}/v2/${name}/tags/list`)).json()).toEqual({ name, tags: ['latest'] });
    const catalog = (await (await fetch(`${reg.url}/v2/_catalog`)).json()) as { repositories: string[] };
    expect(catalog.repositories).toContain(name);
  });

  it('a parent repository and a nested one are independent', async () => {
    await pushImage(reg.url, 'nest', 'parent', { seed: 'nest-parent' });
    await pushImage(reg.url, 'nest/child', 'child', { seed: 'nest-child' });
    expect(((await (await fetch(`${reg.url}/v2/nest/tags/list`)).json()) as { tags: string[] }).tags).toEqual(['parent']);
    expect(((await (await fetch(`${reg.url}/v2/nest/child/tags/list`)).json()) as { tags: string[] }).tags).toEqual(['child']);
  });

  it.each([
    ['uppercase', '/v2/MyApp/manifests/latest'],
    ['uppercase in a nested part', '/v2/org/App/tags/list'],
    ['a leading separator', '/v2/-app/blobs/uploads/'],
    ['an empty component', '/v2/a//b/manifests/latest'],
    ['a name too long', `/v2/${'a'.repeat(300)}/manifests/latest`],
    ['a triple underscore', '/v2/a___b/tags/list'],
  ])('%s is 400 NAME_INVALID', async (_label, path) => {
    const get = await rawRequest(reg.port, 'GET', path);
    expect(get.status).toBe(400);
    expect(codeIn(get.body)).toBe('NAME_INVALID');
  });

  it('a push to an invalid name is NAME_INVALID and creates nothing', async () => {
    const before = await listFiles(reg.dataDir);
    const res = await fetch(`${reg.url}/v2/Bad/Name/blobs/uploads/?digest=${sha256('x')}`, { method: 'POST', body: 'x' });
    expect(res.status).toBe(400);
    expect(await errorCode(res)).toBe('NAME_INVALID');
    expect(await listFiles(reg.dataDir)).toEqual(before);
  });

  const traversals = [
    '/v2/../../etc/passwd/manifests/latest',
    '/v2/a/../../../outside/manifests/latest',
    '/v2/%2e%2e/%2e%2e/outside/manifests/latest',
    '/v2/%2E%2E%2F%2E%2E%2Foutside/tags/list',
    '/v2/a%2F..%2F..%2F..%2Foutside/blobs/uploads/',
    '/v2/..%2f..%2foutside/_catalog',
    '/v2/app/manifests/..%2F..%2F..%2Foutside',
    '/v2/app/manifests/%2e%2e',
    '/v2/app/manifests/..',
    `/v2/app/blobs/sha256:..%2F..%2F${'a'.repeat(58)}`,
    '/v2/app/blobs/uploads/..%2F..%2Fuploads',
    '/v2/app/blobs/uploads/%2e%2e',
    '/v2/app/tags/list/..',
    '/v2/app%00/tags/list',
    '/v2/app/manifests/%ZZ',
    '/v2/%/tags/list',
  ];

  it.each(traversals)('%s never escapes the data folder and never answers 500', async (path) => {
    for (const method of ['GET', 'HEAD', 'PUT', 'POST', 'PATCH', 'DELETE']) {
      const body = method === 'PUT' || method === 'POST' || method === 'PATCH' ? JSON.stringify({ schemaVersion: 2, manifests: [] }) : undefined;
      const res = await rawRequest(reg.port, method, path, body);
      expect(res.status, `${method} ${path}`).toBeGreaterThanOrEqual(400);
      expect(res.status, `${method} ${path}`).toBeLessThan(500);
      if (method !== 'HEAD') expect(codeIn(res.body), `${method} ${path}: ${res.body}`).toBeDefined();
    }
    expect(await readdir(parent)).toEqual(['data']);
    expect((await listFiles(reg.dataDir)).filter((f) => f.includes('outside') || f.includes('passwd'))).toEqual([]);
  });
});
