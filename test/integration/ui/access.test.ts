import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { basic, pushReferrer, seedCredentials, type SeededImage } from '../../helpers/auth.js';
import { OCI_CONFIG, OCI_LAYER, OCI_MANIFEST, pushBlob, putManifest, sha256 } from '../../helpers/push.js';
import { startRegistry, tmpDir, type RunningRegistry } from '../../helpers/registry.js';

/**
 * Who sees what on the pages, the JSON API and /v1/search, with access control on: anonymous sees the
 * public namespace only, a reader of one namespace sees that one too, an admin sees everything. A
 * hidden repository's name shows nowhere, and asking for it answers exactly as for one that does not exist.
 */

let reg: RunningRegistry;
let admin: string;
let reader: string;
let readerToken: string;
const images: Record<string, SeededImage> = {};

const REPOS = { pub: 'pub/web', teamA: 'team-a/api', teamB: 'team-b/secret-db' };

async function pushDescribed(repo: string, tag: string, description: string, auth: string): Promise<SeededImage> {
  const headers = { authorization: auth };
  const config = JSON.stringify({ architecture: 'amd64', os: 'linux', config: { Labels: { team: repo.split('/')[0] } }, rootfs: { type: 'layers', diff_ids: [] } });
  const c = await pushBlob(reg.url, repo, config, OCI_CONFIG, { headers, singleRequest: true });
  const l = await pushBlob(reg.url, repo, `layer of ${repo}`, OCI_LAYER, { headers, singleRequest: true });
  const manifest = new TextEncoder().encode(
    JSON.stringify({ schemaVersion: 2, mediaType: OCI_MANIFEST, config: c, layers: [l], annotations: { 'org.opencontainers.image.description': description } }),
  );
  const res = await putManifest(reg.url, repo, tag, manifest, OCI_MANIFEST, headers);
  expect(res.status).toBe(201);
  return { manifest, digest: sha256(manifest), layer: l.digest };
}

async function api(path: string, auth?: string): Promise<{ status: number; json: Record<string, unknown>; text: string }> {
  const res = await fetch(`${reg.url}${path}`, { headers: auth ? { authorization: auth } : {} });
  const text = await res.text();
  return { status: res.status, text, json: text.startsWith('{') ? (JSON.parse(text) as Record<string, unknown>) : {} };
}

async function listed(auth?: string, q = ''): Promise<string[]> {
  const r = await api(`/api/repositories?q=${encodeURIComponent(q)}`, auth);
  expect(r.status).toBe(200);
  return (r.json.repositories as Array<{ name: string }>).map((x) => x.name).sort();
}

async function searched(auth: string | undefined, q: string): Promise<{ names: string[]; count: number; raw: string }> {
  const r = await api(`/v1/search?q=${encodeURIComponent(q)}`, auth);
  expect(r.status).toBe(200);
  return { names: (r.json.results as Array<{ name: string }>).map((x) => x.name).sort(), count: r.json.num_results as number, raw: r.text };
}

async function page(path: string, headers: Record<string, string> = {}): Promise<{ status: number; html: string; headers: Headers }> {
  const res = await fetch(`${reg.url}${path}`, { headers, redirect: 'manual' });
  return { status: res.status, html: await res.text(), headers: res.headers };
}

beforeAll(async () => {
  const dataDir = await tmpDir('ui-access-');
  const all = ['read', 'write', 'delete'] as Array<'read' | 'write' | 'delete'>;
  const tokens = await seedCredentials(
    dataDir,
    [
      { name: 'admin', password: 'admin-password', access: [{ namespace: '*', scopes: all }] },
      { name: 'reader', password: 'reader-password', access: [{ namespace: 'team-a', scopes: ['read'] }] },
    ],
    [{ name: 'ci', user: 'reader', scopes: ['read'], namespaces: ['team-a'] }],
  );
  readerToken = tokens.ci!.secret;
  reg = await startRegistry(
    {
      auth: {
        enabled: true,
        reloadSeconds: 0,
        namespaces: [{ prefix: 'pub/', visibility: 'public' }],
        rateLimit: { maxFailuresPerIp: 100_000, maxFailuresPerUser: 100_000 },
      },
      ui: { downloadFlushSeconds: 0.2 },
    },
    { dataDir },
  );
  admin = basic('admin', 'admin-password');
  reader = basic('reader', 'reader-password');
  images.pub = await pushDescribed(REPOS.pub, '1', 'public web server', admin);
  images.teamA = await pushDescribed(REPOS.teamA, '1', 'alpha service', admin);
  images.teamB = await pushDescribed(REPOS.teamB, '1', 'database holding the secret-word', admin);
  await pushReferrer(reg.url, REPOS.teamA, images.teamA!, admin);
});

afterAll(async () => {
  await reg?.close();
});

describe('who sees which repositories', () => {
  it('anonymous: the public namespace only, in the API, /v1/search and the list page', async () => {
    expect(await listed()).toEqual([REPOS.pub]);
    expect((await searched(undefined, '')).names).toEqual([REPOS.pub]);
    const home = await page('/ui/');
    expect(home.status).toBe(200);
    expect(home.html).toContain(REPOS.pub);
    expect(home.html).not.toContain('team-a');
    expect(home.html).not.toContain('team-b');
  });

  it('a reader of team-a: public and team-a, never team-b', async () => {
    expect(await listed(reader)).toEqual([REPOS.pub, REPOS.teamA]);
    expect((await searched(reader, 'a')).names).toEqual([REPOS.pub, REPOS.teamA].filter((n) => n.includes('a')).sort());
    // The same through an access token of the reader.
    expect(await listed(basic('reader', readerToken))).toEqual([REPOS.pub, REPOS.teamA]);
  });

  it('an admin: everything', async () => {
    expect(await listed(admin)).toEqual([REPOS.pub, REPOS.teamA, REPOS.teamB]);
    expect((await searched(admin, '')).count).toBe(3);
  });

  it('search matches descriptions, but a hidden repository is not counted nor named', async () => {
    expect((await searched(admin, 'secret-word')).names).toEqual([REPOS.teamB]);
    expect(await listed(admin, 'alpha')).toEqual([REPOS.teamA]);
    for (const who of [undefined, reader]) {
      const s = await searched(who, 'secret');
      expect(s.count).toBe(0);
      expect(s.raw).not.toContain('secret-db');
      expect(await listed(who, 'secret')).toEqual([]);
    }
  });

  it('a hidden repository answers exactly like a missing one, in pages and API', async () => {
    for (const who of [undefined, reader]) {
      const headers: Record<string, string> = who ? { authorization: who } : {};
      const hidden = await page(`/ui/repositories/${REPOS.teamB}`, headers);
      const missing = await page('/ui/repositories/team-b/no-such-repo', headers);
      expect(hidden.status).toBe(404);
      expect(hidden.html).toBe(missing.html);
      expect(hidden.html).not.toContain('secret-db');
      const hiddenImage = await page(`/ui/repositories/${REPOS.teamB}/-/images/1`, headers);
      expect(hiddenImage.status).toBe(404);
      expect(hiddenImage.html).toBe(missing.html);
      const a = await api(`/api/repositories/${REPOS.teamB}/-/images/1`, who);
      const b = await api('/api/repositories/team-b/no-such-repo/-/images/1', who);
      expect(a.status).toBe(404);
      expect(a.text).toBe(b.text);
      expect(a.text).not.toContain('secret-db');
      const files = await api(`/api/repositories/${REPOS.teamB}/-/layers/${images.teamB!.layer}/files`, who);
      expect(files.status).toBe(404);
    }
    expect((await api(`/api/repositories/${REPOS.teamB}/-/images/1`, admin)).status).toBe(200);
    // Malformed names and escapes are a plain 404 too, never a 500.
    for (const path of ['/api/repositories/%ZZ', '/ui/repositories/%ZZ/x', '/ui/repositories/a/-/images/%ZZ', '/api/repositories/UPPER/-/tags', '/ui/repositories/']) {
      expect((await fetch(`${reg.url}${path}`)).status, path).toBe(404);
    }
  });

  it('bad credentials are refused (401), not treated as anonymous', async () => {
    expect((await api('/api/repositories', basic('reader', 'wrong'))).status).toBe(401);
    expect((await page('/ui/', { authorization: basic('reader', 'wrong') })).status).toBe(401);
  });
});

describe('sign-in with the registry users', () => {
  it('exchanges a password for an HttpOnly, SameSite=Strict, short-lived session cookie that shows what the user may pull', async () => {
    const res = await fetch(`${reg.url}/ui/sign-in`, {
      method: 'POST',
      redirect: 'manual',
      headers: { 'content-type': 'application/x-www-form-urlencoded' },
      body: new URLSearchParams({ username: 'reader', password: 'reader-password' }),
    });
    expect(res.status).toBe(303);
    const setCookie = res.headers.get('set-cookie')!;
    expect(setCookie).toMatch(/^registry_session=[^;]+/);
    expect(setCookie).toMatch(/HttpOnly/i);
    expect(setCookie).toMatch(/SameSite=Strict/i);
    const maxAge = Number(/Max-Age=(\d+)/i.exec(setCookie)![1]);
    expect(maxAge).toBeGreaterThan(0);
    expect(maxAge).toBeLessThanOrEqual(3600);
    const cookie = setCookie.split(';')[0]!;
    const home = await page('/ui/', { cookie });
    expect(home.html).toContain(REPOS.teamA);
    expect(home.html).not.toContain('team-b');
    expect(home.html).toContain('Signed in as');
    expect(await listed(undefined)).toEqual([REPOS.pub]);
    const viaCookie = await fetch(`${reg.url}/api/repositories`, { headers: { cookie } });
    expect(((await viaCookie.json()) as { repositories: Array<{ name: string }> }).repositories.map((r) => r.name).sort()).toEqual([REPOS.pub, REPOS.teamA]);
    // A forged or tampered session is no session: the visitor is anonymous.
    const forged = await page('/ui/', { cookie: `${cookie.slice(0, -4)}AAAA` });
    expect(forged.status).toBe(200);
    expect(forged.html).not.toContain('team-a');
    const out = await fetch(`${reg.url}/ui/sign-out`, { method: 'POST', redirect: 'manual', headers: { cookie } });
    expect(out.status).toBe(303);
    expect(out.headers.get('set-cookie')).toMatch(/registry_session=;/);
  });

  it('a wrong password gets the form again with an error and no cookie', async () => {
    const res = await fetch(`${reg.url}/ui/sign-in`, {
      method: 'POST',
      redirect: 'manual',
      headers: { 'content-type': 'application/x-www-form-urlencoded' },
      body: new URLSearchParams({ username: 'reader', password: 'nope' }),
    });
    expect(res.status).toBe(401);
    expect(res.headers.get('set-cookie')).toBeNull();
    expect(await res.text()).toContain('Incorrect user name, password or token');
  });
});

describe('image facts, headers and download counts', () => {
  it('sends a Content-Security-Policy without inline scripts on every page', async () => {
    for (const path of ['/ui/', '/ui/sign-in', `/ui/repositories/${REPOS.pub}`, '/ui/repositories/nope/x']) {
      const csp = (await page(path)).headers.get('content-security-policy');
      expect(csp).toContain("default-src 'none'");
      expect(csp).not.toContain('unsafe-inline');
    }
  });

  it('pages tags and repositories with n/last, and the pages link to the next page', async () => {
    for (const tag of ['2', '3']) await pushDescribed(REPOS.teamA, tag, 'alpha service', admin);
    const first = await api(`/api/repositories/${REPOS.teamA}/-/tags?n=2`, admin);
    expect((first.json.tags as Array<{ tag: string }>).map((t) => t.tag)).toEqual(['1', '2']);
    expect(first.json.next).toBe('2');
    const second = await api(`/api/repositories/${REPOS.teamA}/-/tags?n=2&last=2`, admin);
    expect((second.json.tags as Array<{ tag: string; digest: string; platforms: string[] }>).map((t) => [t.tag, t.platforms])).toEqual([['3', ['linux/amd64']]]);
    expect(second.json.next).toBeNull();
    const repos = await api('/api/repositories?n=2', admin);
    expect((repos.json.repositories as Array<{ name: string }>).map((r) => r.name)).toEqual([REPOS.pub, REPOS.teamA]);
    expect(repos.json.next).toBe(REPOS.teamA);
    expect(((await api(`/api/repositories?n=2&last=${encodeURIComponent(REPOS.teamA)}`, admin)).json.repositories as Array<{ name: string }>).map((r) => r.name)).toEqual([REPOS.teamB]);
    const repoPage = await page(`/ui/repositories/${REPOS.teamA}`, { authorization: admin });
    expect(repoPage.html).toContain('>3</a>');
    expect((await api(`/api/repositories/${REPOS.teamA}`, admin)).json.tagCount).toBe(3);
  });

  it('shows referrers (an SBOM) of an image', async () => {
    const r = await api(`/api/repositories/${REPOS.teamA}/-/images/1`, reader);
    expect(r.status).toBe(200);
    expect((r.json.referrers as Array<{ artifactType: string }>).map((x) => x.artifactType)).toEqual(['application/vnd.example.sbom']);
  });

  it('counts manifest downloads per image and repository, written to disk in batches', async () => {
    for (let i = 0; i < 3; i++) {
      const res = await fetch(`${reg.url}/v2/${REPOS.pub}/manifests/1`, { headers: { accept: OCI_MANIFEST } });
      expect(res.status).toBe(200);
      await res.arrayBuffer();
    }
    const r = await api(`/api/repositories/${REPOS.pub}/-/images/1`);
    expect(r.json.downloads).toEqual({ image: 3, repository: 3 });
    // The batch reaches the disk shortly after, off the request path.
    const file = join(reg.dataDir, 'facts', 'downloads', 'pub', 'web', '_counts.json');
    const deadline = Date.now() + 5000;
    let stored: Record<string, number> | undefined;
    while (Date.now() < deadline) {
      stored = await readFile(file, 'utf8').then((t) => JSON.parse(t) as Record<string, number>, () => undefined);
      // A flush may fall between two of the pulls: wait for the batch holding the last one.
      if (stored?.[images.pub!.digest] === 3) break;
      await new Promise((res) => setTimeout(res, 50));
    }
    expect(stored).toEqual({ [images.pub!.digest]: 3 });
    expect((await api(`/api/repositories/${REPOS.pub}`)).json.downloads).toBe(3);
  });
});
