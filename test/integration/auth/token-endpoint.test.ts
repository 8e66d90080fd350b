import { decodeJwt } from 'jose';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { basic, fetchToken, pushSmallImage, seedCredentials } from '../../helpers/auth.js';
import { startRegistry, tmpDir, type RunningRegistry } from '../../helpers/registry.js';

/** The token endpoint and the ping, as docker login, podman, skopeo and containerd use them. */

let reg: RunningRegistry;
let tokens: Record<string, { id: string; secret: string }>;
const alice = basic('alice', 'alice-password');

beforeAll(async () => {
  const dataDir = await tmpDir('auth-token-');
  tokens = await seedCredentials(
    dataDir,
    [{ name: 'alice', password: 'alice-password', access: [{ namespace: 'acme', scopes: ['read', 'write'] }] }],
    [{ name: 'ci', user: 'alice', scopes: ['read'], namespaces: ['acme'] }],
  );
  reg = await startRegistry(
    { auth: { enabled: true, reloadSeconds: 0, service: 'my-registry', namespaces: [{ prefix: 'pub', visibility: 'public' }] } },
    { dataDir },
  );
  await pushSmallImage(reg.url, 'acme/app', '1', alice);
});

afterAll(async () => {
  await reg?.close();
});

describe('GET /v2/ (the ping docker login relies on)', () => {
  it('answers 401 with a Bearer challenge without scope to anonymous callers', async () => {
    const res = await fetch(`${reg.url}/v2/`);
    expect(res.status).toBe(401);
    expect(res.headers.get('www-authenticate')).toBe(`Bearer realm="${reg.url}/token",service="my-registry"`);
    expect(res.headers.get('docker-distribution-api-version')).toBe('registry/2.0');
  });

  it('answers 200 with valid Basic credentials or a valid token, 401 with bad ones', async () => {
    expect((await fetch(`${reg.url}/v2/`, { headers: { authorization: alice } })).status).toBe(200);
    const { token } = await fetchToken(reg.url, [], alice);
    expect((await fetch(`${reg.url}/v2/`, { headers: { authorization: `Bearer ${token}` } })).status).toBe(200);
    const bad = await fetch(`${reg.url}/v2/`, { headers: { authorization: 'Bearer not-a-jwt' } });
    expect(bad.status).toBe(401);
    expect(bad.headers.get('www-authenticate')).toContain('error="invalid_token"');
  });
});

describe('GET /token', () => {
  it('grants only what the caller may have: asking for more gets a token with less (as Docker Hub)', async () => {
    const res = await fetchToken(reg.url, ['repository:acme/app:pull,push,delete', 'repository:secret/x:pull', 'registry:catalog:*'], alice);
    expect(res.status).toBe(200);
    const body = res.body as Record<string, unknown>;
    expect(body.access_token).toBe(body.token);
    expect(body.expires_in).toBe(300);
    expect(typeof body.issued_at).toBe('string');
    const claims = decodeJwt(res.token!);
    expect(claims.access).toEqual([
      { type: 'repository', name: 'acme/app', actions: ['pull', 'push'] },
      { type: 'repository', name: 'secret/x', actions: [] },
      { type: 'registry', name: 'catalog', actions: ['*'] },
    ]);
    expect(claims.aud).toBe('my-registry');
    expect(claims.sub).toBe('alice');
  });

  it('gives anonymous callers a token for public pulls only', async () => {
    const res = await fetchToken(reg.url, ['repository:pub/app:pull,push', 'repository:acme/app:pull']);
    expect(res.status).toBe(200);
    expect(decodeJwt(res.token!).access).toEqual([
      { type: 'repository', name: 'pub/app', actions: ['pull'] },
      { type: 'repository', name: 'acme/app', actions: [] },
    ]);
    const denied = await fetch(`${reg.url}/v2/acme/app/manifests/1`, { headers: { authorization: `Bearer ${res.token}` } });
    expect(denied.status).toBe(401);
    expect(denied.headers.get('www-authenticate')).toContain('error="insufficient_scope"');
  });

  it('accepts an access token as the password and refuses wrong credentials with 401', async () => {
    const ok = await fetchToken(reg.url, ['repository:acme/app:pull,push'], basic('alice', tokens.ci!.secret));
    expect(decodeJwt(ok.token!).access).toEqual([{ type: 'repository', name: 'acme/app', actions: ['pull'] }]);
    expect((await fetchToken(reg.url, ['repository:acme/app:pull'], basic('alice', 'nope'))).status).toBe(401);
  });

  it('a token lacking a scope the caller could have answers 401 insufficient_scope (the client fetches a new one)', async () => {
    const pullOnly = await fetchToken(reg.url, ['repository:acme/app:pull'], alice);
    const res = await fetch(`${reg.url}/v2/acme/app/blobs/uploads/`, { method: 'POST', headers: { authorization: `Bearer ${pullOnly.token}` } });
    expect(res.status).toBe(401);
    expect(res.headers.get('www-authenticate')).toBe(`Bearer realm="${reg.url}/token",service="my-registry",scope="repository:acme/app:push",error="insufficient_scope"`);
    // …but a right the caller does not have at all is 403 DENIED.
    const del = await fetch(`${reg.url}/v2/acme/app/manifests/1`, { method: 'DELETE', headers: { authorization: `Bearer ${pullOnly.token}` } });
    expect(del.status).toBe(403);
  });

  it('docker login: offline_token=true returns a refresh token usable with grant_type=refresh_token', async () => {
    const res = await fetch(`${reg.url}/token?service=my-registry&offline_token=true&client_id=docker&account=alice`, { headers: { authorization: alice } });
    expect(res.status).toBe(200);
    expect(res.headers.get('cache-control')).toBe('no-store');
    const { refresh_token: refresh } = (await res.json()) as { refresh_token: string };
    expect(refresh).toBeTruthy();
    const post = await fetch(`${reg.url}/token`, {
      method: 'POST',
      body: new URLSearchParams({ grant_type: 'refresh_token', refresh_token: refresh, service: 'my-registry', scope: 'repository:acme/app:pull', client_id: 'docker' }),
    });
    expect(post.status).toBe(200);
    const body = (await post.json()) as { access_token: string; refresh_token: string };
    expect(body.refresh_token).toBe(refresh);
    const pulled = await fetch(`${reg.url}/v2/acme/app/manifests/1`, {
      headers: { authorization: `Bearer ${body.access_token}`, accept: 'application/vnd.oci.image.manifest.v1+json' },
    });
    expect(pulled.status).toBe(200);
    // A refresh token is not a bearer token.
    expect((await fetch(`${reg.url}/v2/acme/app/manifests/1`, { headers: { authorization: `Bearer ${refresh}` } })).status).toBe(401);
  });
});

describe('tampered tokens at the registry', () => {
  it('a pull token edited to allow push, or re-signed with alg none, is rejected as invalid_token', async () => {
    const { token } = await fetchToken(reg.url, ['repository:acme/app:pull'], basic('alice', tokens.ci!.secret));
    const [header, payload, signature] = token!.split('.');
    const claims = JSON.parse(Buffer.from(payload!, 'base64url').toString()) as Record<string, unknown>;
    claims.access = [{ type: 'repository', name: 'acme/app', actions: ['pull', 'push'] }];
    const widened = `${header}.${Buffer.from(JSON.stringify(claims)).toString('base64url')}.${signature}`;
    const none = `${Buffer.from(JSON.stringify({ alg: 'none', typ: 'JWT' })).toString('base64url')}.${Buffer.from(JSON.stringify(claims)).toString('base64url')}.`;
    for (const forged of [widened, none]) {
      const res = await fetch(`${reg.url}/v2/acme/app/blobs/uploads/`, { method: 'POST', headers: { authorization: `Bearer ${forged}` } });
      expect(res.status).toBe(401);
      expect(res.headers.get('www-authenticate')).toContain('error="invalid_token"');
    }
  });
});

describe('POST /token (OAuth2, containerd and podman)', () => {
  async function post(form: Record<string, string>): Promise<Response> {
    return fetch(`${reg.url}/token`, { method: 'POST', body: new URLSearchParams(form) });
  }

  it('grant_type=password answers {token, access_token, expires_in, issued_at}', async () => {
    const res = await post({ grant_type: 'password', username: 'alice', password: 'alice-password', scope: 'repository:acme/app:pull', service: 'my-registry', client_id: 'containerd-client' });
    expect(res.status).toBe(200);
    const body = (await res.json()) as Record<string, unknown>;
    expect(Object.keys(body).sort()).toEqual(['access_token', 'expires_in', 'issued_at', 'token']);
    expect(decodeJwt(body.access_token as string).access).toEqual([{ type: 'repository', name: 'acme/app', actions: ['pull'] }]);
  });

  it('wrong password → 401; unknown grant type, or a missing field → 400 (containerd then falls back to GET)', async () => {
    expect((await post({ grant_type: 'password', username: 'alice', password: 'wrong', scope: 'repository:acme/app:pull' })).status).toBe(401);
    expect((await post({ grant_type: 'client_credentials' })).status).toBe(400);
    expect((await post({ grant_type: 'password', username: 'alice' })).status).toBe(400);
    expect((await post({ grant_type: 'refresh_token', refresh_token: 'garbage' })).status).toBe(401);
  });
});

describe('auth disabled (the default)', () => {
  it('the registry is open and has no token endpoint', async () => {
    const open = await startRegistry({});
    try {
      expect((await fetch(`${open.url}/v2/`)).status).toBe(200);
      await pushSmallImage(open.url, 'any/thing', '1', 'Basic Zm9vOmJhcg==');
      expect((await fetch(`${open.url}/token`)).status).toBe(404);
    } finally {
      await open.close();
    }
  });
});
