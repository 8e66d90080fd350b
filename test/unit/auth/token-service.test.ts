import { generateKeyPairSync } from 'node:crypto';
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { SignJWT, decodeJwt } from 'jose';
import { afterAll, beforeEach, describe, expect, it } from 'vitest';
import { scratchDirs } from '../../helpers/auth.js';
import { SigningKeyFile } from '../../../src/auth/signing-key.js';
import { TokenError, TokenService } from '../../../src/auth/token-service.js';
import { ManualClock } from '../../helpers/mirror.js';

const scratch = scratchDirs();
afterAll(() => scratch.cleanup());

const OPTIONS = { issuer: 'test-issuer', service: 'test-service', ttlSeconds: 300, refreshTtlSeconds: 3600 };
const ACCESS = [{ type: 'repository' as const, name: 'acme/app', actions: ['pull' as const] }];

function b64(value: unknown): string {
  return Buffer.from(JSON.stringify(value)).toString('base64url');
}

describe('TokenService', () => {
  let clock: ManualClock;
  let keys: SigningKeyFile;
  let tokens: TokenService;

  beforeEach(async () => {
    clock = new ManualClock(Date.parse('2030-01-01T00:00:00Z'));
    keys = new SigningKeyFile(join(await scratch.make('auth-key-'), 'auth', 'signing-key.pem'), 0);
    await keys.ensure();
    tokens = new TokenService(keys, clock, OPTIONS);
  });

  /** A token whose claims are all valid: only its header and signing key are under test. */
  function forgeWithValidClaims(header: { alg: string; kid?: string; typ: string }, key: Parameters<SignJWT['sign']>[0]): Promise<string> {
    const now = Math.floor(clock.now() / 1000);
    return new SignJWT({ access: ACCESS })
      .setProtectedHeader(header)
      .setIssuer(OPTIONS.issuer)
      .setAudience(OPTIONS.service)
      .setSubject('alice')
      .setIssuedAt(now)
      .setNotBefore(now)
      .setExpirationTime(now + 60)
      .setJti('x')
      .sign(key);
  }

  it('issues a JWT with iss, sub, aud, exp, nbf, iat, jti and only the given access', async () => {
    const { token, expiresIn, issuedAt } = await tokens.issue('alice', ACCESS, 'tok1');
    expect(expiresIn).toBe(300);
    expect(issuedAt.toISOString()).toBe('2030-01-01T00:00:00.000Z');
    const claims = decodeJwt(token);
    const now = Date.parse('2030-01-01T00:00:00Z') / 1000;
    expect(claims).toMatchObject({ iss: 'test-issuer', sub: 'alice', aud: 'test-service', iat: now, nbf: now, exp: now + 300, access: ACCESS, tid: 'tok1' });
    expect(typeof claims.jti).toBe('string');
    await expect(tokens.verify(token)).resolves.toEqual({ subject: 'alice', tokenId: 'tok1', federated: false, access: ACCESS });
  });

  it('rejects a token whose access claim was widened (signature no longer matches)', async () => {
    const { token } = await tokens.issue('alice', ACCESS);
    const [header, payload, signature] = token.split('.');
    const claims = JSON.parse(Buffer.from(payload!, 'base64url').toString()) as Record<string, unknown>;
    claims.access = [{ type: 'repository', name: 'acme/app', actions: ['pull', 'push', 'delete'] }];
    await expect(tokens.verify(`${header}.${b64(claims)}.${signature}`)).rejects.toBeInstanceOf(TokenError);
    claims.access = ACCESS;
    claims.sub = 'admin';
    await expect(tokens.verify(`${header}.${b64(claims)}.${signature}`)).rejects.toBeInstanceOf(TokenError);
  });

  it('rejects alg none', async () => {
    const { token } = await tokens.issue('alice', ACCESS);
    const payload = token.split('.')[1]!;
    await expect(tokens.verify(`${b64({ alg: 'none', typ: 'JWT' })}.${payload}.`)).rejects.toBeInstanceOf(TokenError);
    await expect(tokens.verify(`${b64({ alg: 'none', typ: 'JWT' })}.${payload}`)).rejects.toBeInstanceOf(TokenError);
  });

  it('rejects a token signed with another key, even with the right kid and claims', async () => {
    const current = await keys.current();
    const other = generateKeyPairSync('ec', { namedCurve: 'P-256' }).privateKey;
    const forged = await forgeWithValidClaims({ alg: 'ES256', kid: current.kid, typ: 'JWT' }, other);
    await expect(tokens.verify(forged)).rejects.toBeInstanceOf(TokenError);
  });

  it('rejects an HMAC token keyed with the public key (algorithm confusion)', async () => {
    const current = await keys.current();
    const secret = current.publicKey.export({ format: 'pem', type: 'spki' });
    const forged = await forgeWithValidClaims({ alg: 'HS256', typ: 'JWT' }, new Uint8Array(Buffer.from(secret)));
    await expect(tokens.verify(forged)).rejects.toBeInstanceOf(TokenError);
  });

  it('rejects an expired token, and one not yet valid', async () => {
    const { token } = await tokens.issue('alice', ACCESS);
    clock.advance(299_000);
    await expect(tokens.verify(token)).resolves.toBeDefined();
    clock.advance(10_000); // past exp + the 5 s tolerance
    await expect(tokens.verify(token)).rejects.toThrow(/exp/);
    clock.advance(-3_600_000); // an hour before it was issued
    await expect(tokens.verify(token)).rejects.toBeInstanceOf(TokenError);
  });

  it('rejects tokens for another audience or from another issuer', async () => {
    const { token } = await tokens.issue('alice', ACCESS);
    await expect(new TokenService(keys, clock, { ...OPTIONS, service: 'other' }).verify(token)).rejects.toThrow(/aud/);
    await expect(new TokenService(keys, clock, { ...OPTIONS, issuer: 'other' }).verify(token)).rejects.toThrow(/iss/);
  });

  it('keeps refresh tokens and access tokens apart', async () => {
    const refresh = await tokens.issueRefresh('alice', 'tok1');
    const access = await tokens.issue('alice', ACCESS);
    await expect(tokens.verify(refresh.token)).rejects.toBeInstanceOf(TokenError);
    await expect(tokens.verifyRefresh(access.token)).rejects.toBeInstanceOf(TokenError);
    await expect(tokens.verifyRefresh(refresh.token)).resolves.toEqual({ subject: 'alice', tokenId: 'tok1' });
  });

  it('key rotation invalidates every token signed before', async () => {
    const before = await tokens.issue('alice', ACCESS);
    const oldKid = (await keys.current()).kid;
    await keys.rotate();
    expect((await keys.current()).kid).not.toBe(oldKid);
    await expect(tokens.verify(before.token)).rejects.toBeInstanceOf(TokenError);
    const after = await tokens.issue('alice', ACCESS);
    await expect(tokens.verify(after.token)).resolves.toBeDefined();
  });

  it('ensure() keeps an existing key; a configured RSA key works too', async () => {
    const kid = (await keys.current()).kid;
    await keys.ensure();
    expect((await keys.current()).kid).toBe(kid);

    const dir = await scratch.make('auth-rsa-');
    const pem = generateKeyPairSync('rsa', { modulusLength: 2048 }).privateKey.export({ format: 'pem', type: 'pkcs8' }).toString();
    await writeFile(join(dir, 'key.pem'), pem);
    const rsa = new SigningKeyFile(join(dir, 'key.pem'), 0);
    expect((await rsa.ensure()).alg).toBe('RS256');
    const service = new TokenService(rsa, clock, OPTIONS);
    await expect(service.verify((await service.issue('bob', [])).token)).resolves.toMatchObject({ subject: 'bob', access: [] });
  });
});
