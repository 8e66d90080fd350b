import { createHmac } from 'node:crypto';
import { decodeJwt } from 'jose';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createLogger } from '../../../src/log.js';
import { basic, fetchToken, pushSmallImage } from '../../helpers/auth.js';
import { metricValue } from '../../helpers/metric-value.js';
import { githubClaims, OidcIssuer } from '../../helpers/oidc-issuer.js';
import { startRegistry, type RunningRegistry } from '../../helpers/registry.js';

/**
 * OIDC logins from CI (issue 15) against a local issuer on loopback: what a token grants, every rejection,
 * key rotation, the issuer down or hanging, the refresh rate limit, metrics, and no token in any log line.
 */

const logLines: string[] = [];
const usedTokens: string[] = [];
let issuer: OidcIssuer;
let downIssuer: OidcIssuer;
let limitedIssuer: OidcIssuer;
let reg: RunningRegistry;
let limited: RunningRegistry;

const policies: Array<{ claims: Record<string, string | string[]>; namespace: string; scopes: Array<'read' | 'write' | 'delete'> }> = [
  { claims: { repository: 'acme/*', ref: 'refs/heads/main' }, namespace: 'acme/', scopes: ['read', 'write'] },
  { claims: { repository: ['acme/tools', 'acme/infra'] }, namespace: 'tools/', scopes: ['read'] },
];

function oidcConfig(issuers: OidcIssuer[], extra: Record<string, unknown> = {}) {
  return {
    fetchTimeoutMs: 400,
    jwksRefreshMinSeconds: 0,
    clockSkewSeconds: 30,
    ...extra,
    issuers: issuers.map((i) => ({ url: i.url, audience: 'registry', policies })),
  };
}

beforeAll(async () => {
  issuer = await OidcIssuer.start();
  downIssuer = await OidcIssuer.start();
  limitedIssuer = await OidcIssuer.start();
  const logger = createLogger('debug', { write: (line: string) => void logLines.push(line) });
  reg = await startRegistry({ auth: { enabled: true, reloadSeconds: 0, oidc: oidcConfig([issuer, downIssuer]) } }, { logger });
  limited = await startRegistry({ auth: { enabled: true, reloadSeconds: 0, oidc: oidcConfig([limitedIssuer], { jwksRefreshMinSeconds: 3600 }) } }, { logger });
});

afterAll(async () => {
  await reg?.close();
  await limited?.close();
  await issuer?.close();
  await downIssuer?.close();
  await limitedIssuer?.close();
});

async function sign(i: OidcIssuer, claims = githubClaims('acme/app'), o: Parameters<OidcIssuer['sign']>[1] = {}): Promise<string> {
  const t = await i.sign(claims, o);
  usedTokens.push(t);
  return t;
}

/** GET /token with Basic oidc:<jwt>: status, the error message on failure, the token on success. */
async function login(url: string, jwt: string, scopes = ['repository:acme/app:pull,push']): Promise<{ status: number; message?: string; token?: string }> {
  const r = await fetchToken(url, scopes, basic('oidc', jwt));
  const body = r.body as { errors?: Array<{ message: string }> };
  return { status: r.status, token: r.token, message: body.errors?.[0]?.message };
}

function b64(o: unknown): string {
  return Buffer.from(JSON.stringify(o)).toString('base64url');
}

describe('an accepted OIDC token', () => {
  it('docker login flow (GET /token): grants the intersection of its policies and the request, never past the OIDC exp', async () => {
    const jwt = await sign(issuer, githubClaims('acme/app'), { expiresIn: 90 });
    const q = new URLSearchParams({ service: 'registry', offline_token: 'true', client_id: 'docker' });
    for (const s of ['repository:acme/app:pull,push,delete', 'repository:other/app:pull,push', 'repository:tools/x:pull,push', 'registry:catalog:*']) q.append('scope', s);
    const res = await fetch(`${reg.url}/token?${q}`, { headers: { authorization: basic('oidc', jwt) } });
    expect(res.status).toBe(200);
    const body = (await res.json()) as { token: string; expires_in: number; refresh_token?: string };
    // A refresh token would outlive the OIDC token: none is handed out.
    expect(body.refresh_token).toBeUndefined();
    expect(body.expires_in).toBeLessThanOrEqual(90);
    const claims = decodeJwt(body.token);
    expect(claims.exp! - Math.floor(Date.now() / 1000)).toBeLessThanOrEqual(90);
    expect(claims.exp).toBeLessThanOrEqual(decodeJwt(jwt).exp!);
    expect(claims.sub).toBe('oidc:repo:acme/app:ref:refs/heads/main');
    expect(claims.access).toEqual([
      { type: 'repository', name: 'acme/app', actions: ['pull', 'push'] },
      { type: 'repository', name: 'other/app', actions: [] },
      { type: 'repository', name: 'tools/x', actions: [] },
    ]);

    // The token pushes where it was granted, and nowhere else.
    const bearer = `Bearer ${body.token}`;
    await pushSmallImage(reg.url, 'acme/app', 'v1', bearer);
    const elsewhere = await fetch(`${reg.url}/v2/other/app/blobs/uploads/`, { method: 'POST', headers: { authorization: bearer } });
    // 403, not 401: no login of this CI identity could ever get it.
    expect(elsewhere.status).toBe(403);
    const tools = await fetch(`${reg.url}/v2/tools/x/blobs/uploads/`, { method: 'POST', headers: { authorization: bearer } });
    expect(tools.status).toBe(403);
  });

  it('Basic oidc:<jwt> on /v2/ (skopeo --creds): pushes to the allowed namespace, 403 elsewhere', async () => {
    const auth = basic('oidc', await sign(issuer));
    expect((await fetch(`${reg.url}/v2/`, { headers: { authorization: auth } })).status).toBe(200);
    await pushSmallImage(reg.url, 'acme/basic', 'v1', auth);
    const denied = await fetch(`${reg.url}/v2/other/app/blobs/uploads/`, { method: 'POST', headers: { authorization: auth } });
    expect(denied.status).toBe(403);
    expect(((await denied.json()) as { errors: Array<{ code: string }> }).errors[0]!.code).toBe('DENIED');
  });

  it('POST /token grant_type=password with username oidc', async () => {
    const jwt = await sign(issuer);
    const form = new URLSearchParams({ grant_type: 'password', username: 'oidc', password: jwt, service: 'registry', scope: 'repository:acme/app:pull', client_id: 'containerd-client', access_type: 'offline' });
    const res = await fetch(`${reg.url}/token`, { method: 'POST', body: form });
    expect(res.status).toBe(200);
    const body = (await res.json()) as { access_token: string; refresh_token?: string };
    expect(body.refresh_token).toBeUndefined();
    expect(decodeJwt(body.access_token).access).toEqual([{ type: 'repository', name: 'acme/app', actions: ['pull'] }]);
  });

  it('another branch matches only the policy without a ref condition', async () => {
    const r = await login(reg.url, await sign(issuer, githubClaims('acme/tools', 'refs/heads/dev')), ['repository:acme/tools:pull,push', 'repository:tools/a:pull,push']);
    expect(r.status).toBe(200);
    expect(decodeJwt(r.token!).access).toEqual([
      { type: 'repository', name: 'acme/tools', actions: [] },
      { type: 'repository', name: 'tools/a', actions: ['pull'] },
    ]);
  });
});

describe('rejections: 401 naming the failed check', () => {
  it('a wrong signature', async () => {
    const [h, , s] = (await sign(issuer)).split('.');
    const forged = `${h}.${b64({ ...githubClaims('acme/app'), iss: issuer.url, aud: 'registry', exp: Math.floor(Date.now() / 1000) + 600 })}.${s}`;
    const r = await login(reg.url, forged);
    expect(r.status).toBe(401);
    expect(r.message).toMatch(/signature/);
  });

  it('an unknown kid, not in the JWKS even after one refresh', async () => {
    const hidden = await issuer.addKey({ publish: false });
    const before = issuer.requests.jwks;
    const r = await login(reg.url, await sign(issuer, githubClaims('acme/app'), { kid: hidden }));
    expect(r.status).toBe(401);
    expect(r.message).toMatch(/kid/);
    expect(issuer.requests.jwks).toBe(before + 1);
  });

  it('alg none and HMAC (HS256, even keyed with a published key id)', async () => {
    const claims = { ...githubClaims('acme/app'), iss: issuer.url, aud: 'registry', exp: Math.floor(Date.now() / 1000) + 600 };
    const none = `${b64({ alg: 'none', typ: 'JWT' })}.${b64(claims)}.`;
    const hsInput = `${b64({ alg: 'HS256', typ: 'JWT', kid: issuer.kids[0] })}.${b64(claims)}`;
    const hs = `${hsInput}.${createHmac('sha256', 'guessed').update(hsInput).digest('base64url')}`;
    for (const t of [none, hs]) {
      const r = await login(reg.url, t);
      expect(r.status).toBe(401);
      expect(r.message).toMatch(/algorithm/);
    }
  });

  it('a wrong iss (an issuer not trusted) and a wrong aud', async () => {
    const stranger = await OidcIssuer.start();
    try {
      const r = await login(reg.url, await sign(stranger));
      expect(r.status).toBe(401);
      expect(r.message).toMatch(/issuer/);
      expect(stranger.requests.jwks + stranger.requests.discovery).toBe(0);
    } finally {
      await stranger.close();
    }
    const spoofed = await login(reg.url, await sign(issuer, githubClaims('acme/app'), { issuer: 'https://token.actions.githubusercontent.com' }));
    expect(spoofed.status).toBe(401);
    const aud = await login(reg.url, await sign(issuer, githubClaims('acme/app'), { audience: 'https://other-registry.example' }));
    expect(aud.status).toBe(401);
    expect(aud.message).toMatch(/audience/);
  });

  it('exp and nbf outside the skew; inside the skew nbf is forgiven', async () => {
    const expired = await login(reg.url, await sign(issuer, githubClaims('acme/app'), { expiresIn: -120 }));
    expect(expired.status).toBe(401);
    expect(expired.message).toMatch(/expired/);
    const early = await login(reg.url, await sign(issuer, githubClaims('acme/app'), { notBefore: 300 }));
    expect(early.status).toBe(401);
    expect(early.message).toMatch(/not valid yet/);
    const skewed = await login(reg.url, await sign(issuer, githubClaims('acme/app'), { notBefore: 10 }));
    expect(skewed.status).toBe(200);
  });

  it('a token no policy matches', async () => {
    for (const claims of [githubClaims('evil/app'), githubClaims('acme/app', 'refs/heads/feature'), githubClaims('acme/app/x')]) {
      const r = await login(reg.url, await sign(issuer, claims));
      expect(r.status).toBe(401);
      expect(r.message).toMatch(/no OIDC policy/);
    }
  });

  it('a password that is no JWT, and the same rejections on /v2/ with Basic', async () => {
    const r = await login(reg.url, 'not-a-jwt');
    expect(r.status).toBe(401);
    expect(r.message).toMatch(/not a JWT/);
    const res = await fetch(`${reg.url}/v2/`, { headers: { authorization: basic('oidc', await sign(issuer, githubClaims('evil/app'))) } });
    expect(res.status).toBe(401);
    expect(((await res.json()) as { errors: Array<{ message: string }> }).errors[0]!.message).toMatch(/no OIDC policy/);
  });
});

describe('issuer keys', () => {
  it('rotation: a new kid works after the refresh; the old one stops once it leaves the JWKS', async () => {
    const oldKid = issuer.kids.at(-1)!;
    const oldToken = await sign(issuer, githubClaims('acme/app'), { kid: oldKid });
    expect((await login(reg.url, oldToken)).status).toBe(200);
    const fetches = issuer.requests.jwks;
    const newKid = await issuer.rotate();
    expect((await login(reg.url, await sign(issuer, githubClaims('acme/app'), { kid: newKid }))).status).toBe(200);
    expect(issuer.requests.jwks).toBe(fetches + 1);
    // Still published: the old key keeps working, with no fetch.
    expect((await login(reg.url, oldToken)).status).toBe(200);
    expect(issuer.requests.jwks).toBe(fetches + 1);

    issuer.withdraw(oldKid);
    const newest = await issuer.rotate();
    expect((await login(reg.url, await sign(issuer, githubClaims('acme/app'), { kid: newest }))).status).toBe(200);
    const r = await login(reg.url, oldToken);
    expect(r.status).toBe(401);
    expect(r.message).toMatch(/kid/);
  });

  it('issuer down: cached keys keep working; an unknown kid gets 401, not 5xx, within the timeout', async () => {
    const known = await sign(downIssuer);
    expect((await login(reg.url, known)).status).toBe(200);
    const stranger = await downIssuer.addKey({ publish: false });
    for (const mode of ['down', 'hang'] as const) {
      downIssuer.mode = mode;
      expect((await login(reg.url, await sign(downIssuer))).status).toBe(200);
      const started = Date.now();
      const r = await login(reg.url, await sign(downIssuer, githubClaims('acme/app'), { kid: stranger }));
      expect(r.status).toBe(401);
      expect(r.message).toMatch(/kid/);
      expect(Date.now() - started).toBeLessThan(2000);
    }
    downIssuer.mode = 'up';
    expect(await metricValue(reg.registry.metrics.authJwksFetches, { issuer: downIssuer.url, result: 'failure' })).toBe(2);
  });

  it('an issuer down before its first fetch: 401 (issuer keys unavailable), not 5xx', async () => {
    const fresh = await OidcIssuer.start();
    const other = await startRegistry({ auth: { enabled: true, oidc: oidcConfig([fresh]) } });
    try {
      fresh.mode = 'hang';
      const r = await login(other.url, await sign(fresh));
      expect(r.status).toBe(401);
      expect(r.message).toMatch(/could not be fetched/);
    } finally {
      await other.close();
      await fresh.close();
    }
  });

  it('unknown kids refresh the keys at most once per jwksRefreshMinSeconds', async () => {
    expect((await login(limited.url, await sign(limitedIssuer))).status).toBe(200);
    const fetches = limitedIssuer.requests.jwks;
    for (let i = 0; i < 5; i++) {
      const kid = await limitedIssuer.addKey({ publish: false });
      expect((await login(limited.url, await sign(limitedIssuer, githubClaims('acme/app'), { kid }))).status).toBe(401);
    }
    expect(limitedIssuer.requests.jwks).toBe(fetches);
  });
});

describe('observability', () => {
  it('counts logins by method and result, and JWKS fetches', async () => {
    const m = reg.registry.metrics;
    expect(await metricValue(m.authLogins, { method: 'oidc', result: 'success' })).toBeGreaterThanOrEqual(10);
    expect(await metricValue(m.authLogins, { method: 'oidc', result: 'failure' })).toBeGreaterThanOrEqual(10);
    expect(await metricValue(m.authJwksFetches, { issuer: issuer.url, result: 'success' })).toBeGreaterThanOrEqual(4);
  });

  it('no OIDC token (nor its signature) appears in any log line', () => {
    expect(usedTokens.length).toBeGreaterThan(20);
    expect(logLines.length).toBeGreaterThan(20);
    const all = logLines.join('\n');
    for (const t of usedTokens) {
      expect(all).not.toContain(t);
      expect(all).not.toContain(t.split('.')[2]!);
    }
    expect(all).toMatch(/OIDC token rejected|oidc_/);
  });
});
