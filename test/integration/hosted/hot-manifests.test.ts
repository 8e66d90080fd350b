import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { basic, fetchToken, pushSmallImage, seedCredentials } from '../../helpers/auth.js';
import { metricValue } from '../../helpers/metric-value.js';
import { OCI_INDEX, OCI_MANIFEST, errorCode, pushImage, type PushedImage } from '../../helpers/push.js';
import { startRegistry, tmpDir, type RunningRegistry } from '../../helpers/registry.js';

/**
 * The in-memory manifest lane (src/http/hot-manifests.ts) answers repeated manifest GETs and HEADs
 * without express. These tests count how many requests reached express (its app.handle), and check
 * that the lane's answers are the express path's answers: headers, bytes, metrics, and the same
 * access decisions.
 */

const ROUTE = '/v2/:name/manifests/:reference';
const COMPARED = ['content-type', 'docker-content-digest', 'content-length', 'etag', 'docker-distribution-api-version'];

/** Counts the requests that reach the express app behind the lane. */
function countExpress(reg: RunningRegistry): { readonly count: number } {
  const app = reg.registry.app as unknown as { handle: (...args: unknown[]) => unknown };
  const handle = app.handle;
  const counter = { count: 0 };
  app.handle = function countedHandle(this: unknown, ...args: unknown[]) {
    counter.count++;
    return handle.apply(this, args);
  };
  return counter;
}

function picked(res: Response): Record<string, string | null> {
  return Object.fromEntries(COMPARED.map((h) => [h, res.headers.get(h)]));
}

describe('manifest GETs answered from memory', () => {
  let reg: RunningRegistry;
  let express: { readonly count: number };
  let image: PushedImage;
  const repo = 'hot/app';

  beforeAll(async () => {
    reg = await startRegistry();
    express = countExpress(reg);
    image = await pushImage(reg.url, repo, 'v1', { seed: 'hot-1' });
  });
  afterAll(async () => {
    await reg.close();
  });

  it('serves repeats of a GET by tag and by digest, and HEADs, without express, with the same headers and bytes', async () => {
    const url = `${reg.url}/v2/${repo}/manifests`;
    const first = await fetch(`${url}/v1`, { headers: { accept: OCI_MANIFEST } });
    expect(first.status).toBe(200);
    const firstBody = Buffer.from(await first.arrayBuffer());
    const before = express.count;
    for (const ref of ['v1', image.manifest.digest]) {
      const again = await fetch(`${url}/${ref}`, { headers: { accept: OCI_MANIFEST } });
      expect(again.status).toBe(200);
      expect(picked(again)).toEqual(picked(first));
      expect(again.headers.get('x-request-id')).toMatch(/\S/);
      expect(Buffer.from(await again.arrayBuffer()).equals(firstBody)).toBe(true);
      const head = await fetch(`${url}/${ref}`, { method: 'HEAD', headers: { accept: OCI_MANIFEST } });
      expect(head.status).toBe(200);
      expect(picked(head)).toEqual(picked(first));
    }
    expect(express.count).toBe(before);
    expect(firstBody.equals(image.body)).toBe(true);
  });

  it('counts lane answers in the request metrics under the manifest route', async () => {
    const counter = reg.registry.metrics.httpRequests;
    const before = await metricValue(counter, { route: ROUTE, method: 'GET', status: '200' });
    const expressBefore = express.count;
    for (let i = 0; i < 5; i++) await (await fetch(`${reg.url}/v2/${repo}/manifests/v1`)).arrayBuffer();
    expect(express.count).toBe(expressBefore);
    expect(await metricValue(counter, { route: ROUTE, method: 'GET', status: '200' })).toBe(before + 5);
  });

  it('follows a tag that moves and a tag that is deleted', async () => {
    const url = `${reg.url}/v2/${repo}/manifests/v1`;
    await (await fetch(url)).arrayBuffer();
    const moved = await pushImage(reg.url, repo, 'v1', { seed: 'hot-2' });
    const res = await fetch(url);
    expect(res.headers.get('docker-content-digest')).toBe(moved.manifest.digest);
    expect(Buffer.from(await res.arrayBuffer()).equals(moved.body)).toBe(true);
    expect((await fetch(url, { method: 'DELETE' })).status).toBe(202);
    const gone = await fetch(url);
    expect(gone.status).toBe(404);
    expect(await errorCode(gone)).toBe('MANIFEST_UNKNOWN');
  });

  it('leaves errors and requests with a query string to express', async () => {
    const url = `${reg.url}/v2/${repo}/manifests/${image.manifest.digest}`;
    await (await fetch(url)).arrayBuffer();
    let before = express.count;
    const refused = await fetch(url, { headers: { accept: OCI_INDEX } });
    expect(refused.status).toBe(404);
    expect(await errorCode(refused)).toBe('MANIFEST_UNKNOWN');
    expect(express.count).toBe(before + 1);
    before = express.count;
    expect((await fetch(`${url}?ns=example.com`)).status).toBe(200);
    expect(express.count).toBe(before + 1);
    before = express.count;
    const invalid = await fetch(`${reg.url}/v2/${repo}/manifests/-bad-`);
    expect(invalid.status).toBe(404);
    expect(await errorCode(invalid)).toBe('MANIFEST_UNKNOWN');
    expect(express.count).toBe(before + 1);
  });
});

describe('manifest GETs answered from memory, with access control on', () => {
  let reg: RunningRegistry;
  let express: { readonly count: number };
  let writer: string;
  let token: string;

  beforeAll(async () => {
    const dataDir = await tmpDir('hot-auth-');
    await seedCredentials(dataDir, [{ name: 'alice', password: 'alice-password', access: [{ namespace: '*', scopes: ['read', 'write'] }] }], []);
    reg = await startRegistry(
      {
        auth: {
          enabled: true,
          reloadSeconds: 0,
          namespaces: [
            { prefix: 'priv/', visibility: 'private' },
            { prefix: 'pub/', visibility: 'public' },
          ],
        },
      },
      { dataDir },
    );
    express = countExpress(reg);
    writer = basic('alice', 'alice-password');
    await pushSmallImage(reg.url, 'priv/app', 'v1', writer);
    await pushSmallImage(reg.url, 'pub/app', 'v1', writer);
    const got = await fetchToken(reg.url, ['repository:priv/app:pull'], writer);
    token = got.token!;
  });
  afterAll(async () => {
    await reg.close();
  });

  it('never answers a private manifest to an anonymous caller, however hot it is', async () => {
    const url = `${reg.url}/v2/priv/app/manifests/v1`;
    expect((await fetch(url, { headers: { authorization: `Bearer ${token}` } })).status).toBe(200);
    expect((await fetch(url, { headers: { authorization: `Bearer ${token}` } })).status).toBe(200);
    const anonymous = await fetch(url);
    expect(anonymous.status).toBe(401);
    expect(anonymous.headers.get('www-authenticate')).toMatch(/^Bearer /);
    expect((await fetch(url, { headers: { authorization: 'Bearer not-a-token' } })).status).toBe(401);
  });

  it('checks credentials on every request through express; anonymous pulls of public content skip it', async () => {
    const before = express.count;
    const url = `${reg.url}/v2/priv/app/manifests/v1`;
    for (let i = 0; i < 3; i++) expect((await fetch(url, { headers: { authorization: `Bearer ${token}` } })).status).toBe(200);
    expect(express.count).toBe(before + 3);
    const pub = `${reg.url}/v2/pub/app/manifests/v1`;
    expect((await fetch(pub)).status).toBe(200);
    const warm = express.count;
    for (let i = 0; i < 3; i++) expect((await fetch(pub)).status).toBe(200);
    expect(express.count).toBe(warm);
  });
});
