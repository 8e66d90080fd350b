import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { exportJWK, generateKeyPair, SignJWT } from 'jose';
import { describe, expect, it } from 'vitest';
import { compileConditions, globToRegExp } from '../../../src/auth/oidc/claim-match.js';
import { OidcVerifier } from '../../../src/auth/oidc/oidc-verifier.js';
import { authSchema } from '../../../src/config/auth-schema.js';
import { githubClaims, OidcIssuer } from '../../helpers/oidc-issuer.js';

describe('OIDC claim conditions', () => {
  it('* stays within a path segment, ** crosses them, ? is one character, everything else is literal', () => {
    expect(globToRegExp('acme/*').test('acme/app')).toBe(true);
    expect(globToRegExp('acme/*').test('acme/app/x')).toBe(false);
    expect(globToRegExp('acme/*').test('acme2/app')).toBe(false);
    expect(globToRegExp('refs/heads/**').test('refs/heads/feature/x')).toBe(true);
    expect(globToRegExp('v?.0').test('v1.0')).toBe(true);
    expect(globToRegExp('v?.0').test('v1x0')).toBe(false);
    expect(globToRegExp('a.b(c)+[d]').test('a.b(c)+[d]')).toBe(true);
    expect(globToRegExp('a.b').test('axb')).toBe(false);
  });

  it('every condition must hold; a list is any of them; absent, object or array claims never match', () => {
    const match = compileConditions({ repository: ['acme/app', 'acme/tools'], ref: 'refs/heads/main', run_attempt: '1' });
    expect(match({ repository: 'acme/tools', ref: 'refs/heads/main', run_attempt: 1 })).toBe(true);
    expect(match({ repository: 'acme/tools', ref: 'refs/heads/dev', run_attempt: 1 })).toBe(false);
    expect(match({ repository: 'acme/tools', run_attempt: 1 })).toBe(false);
    expect(match({ repository: ['acme/tools'], ref: 'refs/heads/main', run_attempt: 1 })).toBe(false);
  });

  it('the config refuses a policy without conditions, a non-loopback http issuer and a user named like OIDC logins', () => {
    const policy = { namespace: 'acme/', scopes: ['read'] };
    expect(authSchema.safeParse({ oidc: { issuers: [{ url: 'https://issuer.example', audience: 'r', policies: [{ ...policy, claims: {} }] }] } }).success).toBe(false);
    expect(authSchema.safeParse({ oidc: { issuers: [{ url: 'http://issuer.example', audience: 'r', policies: [{ ...policy, claims: { a: 'b' } }] }] } }).success).toBe(false);
    expect(authSchema.safeParse({ oidc: { issuers: [{ url: 'http://127.0.0.1:1', audience: 'r', algorithms: ['HS256'], policies: [{ ...policy, claims: { a: 'b' } }] }] } }).success).toBe(false);
    const ok = { issuers: [{ url: 'https://issuer.example', audience: 'r', policies: [{ ...policy, claims: { a: 'b' } }] }] };
    expect(authSchema.safeParse({ oidc: ok }).success).toBe(true);
    expect(authSchema.safeParse({ oidc: ok, users: [{ name: 'oidc', passwordEnv: 'X' }] }).success).toBe(false);
  });
});

describe('OIDC issuer keys', () => {
  it('keeps at most maxKeysPerIssuer keys, ignores symmetric and private keys, and tries every key for a token without kid', async () => {
    const keys = await Promise.all([0, 1, 2].map(() => generateKeyPair('ES256', { extractable: true })));
    const jwks = {
      keys: [
        { kty: 'oct', k: 'c2VjcmV0', kid: 'hmac', alg: 'HS256' },
        ...(await Promise.all(keys.map(async (k, i) => ({ ...(await exportJWK(k.publicKey)), kid: `k${i}`, alg: 'ES256' })))),
      ],
    };
    const server = createServer((req, res) => {
      const body = req.url === '/jwks' ? jwks : { issuer: url, jwks_uri: `${url}/jwks` };
      res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify(body));
    });
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
    try {
      const config = authSchema.parse({
        oidc: { maxKeysPerIssuer: 2, issuers: [{ url, audience: 'registry', policies: [{ claims: { repository: 'acme/*' }, namespace: 'acme/', scopes: ['read'] }] }] },
      }).oidc;
      const verifier = new OidcVerifier(config, { now: () => Date.now() }, () => ({ fetched: () => undefined }));
      const sign = (i: number, kid?: string) =>
        new SignJWT(githubClaims('acme/app'))
          .setProtectedHeader(kid ? { alg: 'ES256', kid } : { alg: 'ES256' })
          .setIssuer(url)
          .setAudience('registry')
          .setExpirationTime('5m')
          .sign(keys[i]!.privateKey);
      const first = await verifier.verify(await sign(1, "k1"));
      expect(first.ok ? "ok" : first.rejection.message).toBe("ok");
      // The third key is beyond the bound: unknown.
      const third = await verifier.verify(await sign(2, 'k2'));
      expect(third.ok ? 'accepted' : third.rejection.reason).toBe('unknown_kid');
      // No kid: both kept keys are candidates; the right one verifies.
      const noKid = await verifier.verify(await sign(1));
      expect(noKid.ok ? "ok" : noKid.rejection.message).toBe("ok");
    } finally {
      server.close();
    }
  });

  it('the OidcIssuer test helper signs tokens its JWKS verifies', async () => {
    const issuer = await OidcIssuer.start();
    try {
      const config = authSchema.parse({ oidc: { issuers: [{ url: issuer.url, audience: 'registry', policies: [{ claims: { repository: 'acme/*' }, namespace: 'acme/', scopes: ['read'] }] }] } }).oidc;
      const verifier = new OidcVerifier(config, { now: () => Date.now() }, () => ({ fetched: () => undefined }));
      const r = await verifier.verify(await issuer.sign(githubClaims('acme/app')));
      expect(r.ok && r.identity.allows('acme/app', 'pull')).toBe(true);
      expect(r.ok && r.identity.allows('acme/app', 'push')).toBe(false);
    } finally {
      await issuer.close();
    }
  });
});
