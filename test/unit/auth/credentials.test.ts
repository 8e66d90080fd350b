import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { hashSync } from 'bcryptjs';
import { Keyv } from 'keyv';
import { afterAll, describe, expect, it } from 'vitest';
import { WatchedFile } from '../../../src/auth/auth-files.js';
import { CredentialVerifier } from '../../../src/auth/credential-verifier.js';
import { credentialStorePath, FsCredentialStore } from '../../../src/auth/fs-credential-store.js';
import { parseHtpasswd } from '../../../src/auth/htpasswd.js';
import { BoundedMap, LoginRateLimiter } from '../../../src/auth/login-rate-limiter.js';
import { hashTokenSecret, newTokenSecret } from '../../../src/auth/secrets.js';
import { seedCredentials, scratchDirs } from '../../helpers/auth.js';
import { ManualClock } from '../../helpers/mirror.js';

const scratch = scratchDirs();
afterAll(() => scratch.cleanup());

describe('CredentialVerifier', () => {
  async function setup() {
    const clock = new ManualClock(Date.parse('2030-01-01T00:00:00Z'));
    const dir = await scratch.make('auth-cred-');
    const tokens = await seedCredentials(
      dir,
      [
        { name: 'alice', password: 'alice-password', access: [{ namespace: 'acme', scopes: ['read', 'write'] }] },
        { name: 'bob', access: [{ namespace: '*', scopes: ['read'] }] },
      ],
      [
        { name: 'ci', user: 'alice', scopes: ['write'], namespaces: ['acme/backend', 'other'], expiresAt: clock.now() + 3600_000 },
        { name: 'bobs', user: 'bob', scopes: ['read'], namespaces: ['*'] },
      ],
    );
    const store = new FsCredentialStore(credentialStorePath(dir), 0);
    const htfile = join(dir, 'htpasswd');
    // htpasswd -B writes $2y$; an MD5 entry is ignored.
    await writeFile(htfile, `carol:${hashSync('carol-password', 4).replace(/^\$2b\$/, '$2y$')}\nmallory:$apr1$abc$def\n`);
    const htpasswd = { file: new WatchedFile(htfile, (t) => parseHtpasswd(t ?? ''), 0), access: [{ namespace: 'legacy', scopes: ['read' as const] }] };
    const configTokenSecret = newTokenSecret();
    const verifier = new CredentialVerifier(
      {
        configUsers: [{ name: 'deployer', passwordHash: hashSync('deployer-password', 4), access: [{ namespace: 'prod', scopes: ['write'] }] }],
        configTokens: [{ id: 'config:deploy', name: 'deploy', user: 'deployer', hash: hashTokenSecret(configTokenSecret), scopes: ['read'], namespaces: ['prod'] }],
        store,
        htpasswd,
      },
      clock,
    );
    return { clock, store, tokens, verifier, configTokenSecret };
  }

  it('user + password gets the user rights; a wrong password or unknown user fails', async () => {
    const { verifier } = await setup();
    const ok = await verifier.login('alice', 'alice-password');
    expect(ok.ok && ok.identity.allows('acme/app', 'push')).toBe(true);
    expect(ok.ok && ok.identity.allows('acme/app', 'delete')).toBe(false);
    expect(await verifier.login('alice', 'wrong')).toEqual({ ok: false, reason: 'bad_password' });
    expect(await verifier.login('nobody', 'whatever')).toEqual({ ok: false, reason: 'unknown_user' });
    expect(await verifier.login('bob', 'anything')).toEqual({ ok: false, reason: 'bad_password' }); // token-only user
  });

  it('a token is limited to its namespaces and scopes and to what its owner may do', async () => {
    const { verifier, tokens } = await setup();
    const r = await verifier.login('alice', tokens.ci!.secret);
    expect(r.ok).toBe(true);
    if (!r.ok) return;
    expect(r.identity.tokenId).toBe(tokens.ci!.id);
    expect(r.identity.allows('acme/backend/api', 'push')).toBe(true);
    expect(r.identity.allows('acme/frontend', 'pull')).toBe(false); // outside the token's namespaces
    expect(r.identity.allows('other/x', 'push')).toBe(false); // alice herself has nothing on other/
    expect(r.identity.allows('acme/backend/api', 'delete')).toBe(false);
  });

  it('the token must be presented with its owner name', async () => {
    const { verifier, tokens } = await setup();
    expect(await verifier.login('bob', tokens.ci!.secret)).toEqual({ ok: false, reason: 'token_owner' });
    expect(await verifier.login('alice', `${tokens.ci!.secret}x`)).toEqual({ ok: false, reason: 'bad_token' });
  });

  it('expiry follows the clock; revocation of the token or its owner applies at once', async () => {
    const { verifier, tokens, clock, store } = await setup();
    clock.advance(3600_000);
    expect(await verifier.login('alice', tokens.ci!.secret)).toEqual({ ok: false, reason: 'token_expired' });
    expect((await verifier.login('bob', tokens.bobs!.secret)).ok).toBe(true);
    await store.update((d) => {
      d.tokens.find((t) => t.name === 'bobs')!.revokedAt = new Date().toISOString();
    });
    expect(await verifier.login('bob', tokens.bobs!.secret)).toEqual({ ok: false, reason: 'token_revoked' });
    expect(await verifier.identity('bob', tokens.bobs!.id)).toEqual({ ok: false, reason: 'token_revoked' });
    await store.update((d) => {
      d.users.find((u) => u.name === 'alice')!.revokedAt = new Date().toISOString();
    });
    expect(await verifier.login('alice', 'alice-password')).toEqual({ ok: false, reason: 'user_revoked' });
    expect(await verifier.identity('alice')).toEqual({ ok: false, reason: 'user_revoked' });
  });

  it('reads users and tokens from the config and bcrypt users from htpasswd', async () => {
    const { verifier, configTokenSecret } = await setup();
    const dep = await verifier.login('deployer', 'deployer-password');
    expect(dep.ok && dep.identity.allows('prod/api', 'push')).toBe(true);
    const tok = await verifier.login('deployer', configTokenSecret);
    expect(tok.ok && tok.identity.allows('prod/api', 'pull') && !tok.identity.allows('prod/api', 'push')).toBe(true);
    const carol = await verifier.login('carol', 'carol-password');
    expect(carol.ok && carol.identity.allows('legacy/app', 'pull')).toBe(true);
    expect((await verifier.login('mallory', 'def')).ok).toBe(false);
  });

  it('a password that merely looks like a token still works as a password', async () => {
    const dir = await scratch.make('auth-cred-');
    const odd = 'rgt_this-password-just-looks-like-a-token';
    await seedCredentials(dir, [{ name: 'dave', password: odd, access: [] }]);
    const verifier = new CredentialVerifier({ configUsers: [], configTokens: [], store: new FsCredentialStore(credentialStorePath(dir), 0) }, new ManualClock());
    expect((await verifier.login('dave', odd)).ok).toBe(true);
    expect(await verifier.login('dave', `${odd}x`)).toEqual({ ok: false, reason: 'bad_token' });
  });

  it('stores only hashes', async () => {
    const { store, tokens } = await setup();
    const text = JSON.stringify(await store.snapshot());
    expect(text).not.toContain(tokens.ci!.secret);
    expect(text).not.toContain('alice-password');
  });
});

describe('LoginRateLimiter', () => {
  it('blocks a source or a user after too many failures, until the window ends', async () => {
    const clock = new ManualClock(0);
    const limiter = new LoginRateLimiter(new Keyv(), { windowSeconds: 60, maxFailuresPerIp: 5, maxFailuresPerUser: 3 }, clock);
    for (let i = 0; i < 3; i++) {
      expect(await limiter.blockedFor('10.0.0.1', 'alice')).toBeUndefined();
      await limiter.recordFailure('10.0.0.1', 'alice');
    }
    expect(await limiter.blockedFor('10.0.0.9', 'alice')).toBe(60); // per user, from anywhere
    expect(await limiter.blockedFor('10.0.0.1', 'bob')).toBeUndefined(); // the source still has tries left
    await limiter.recordFailure('10.0.0.1', 'bob');
    await limiter.recordFailure('10.0.0.1', 'carol');
    expect(await limiter.blockedFor('10.0.0.1', 'dave')).toBe(60); // per source, any user
    clock.advance(45_000);
    expect(await limiter.blockedFor('10.0.0.1', 'dave')).toBe(15);
    clock.advance(15_000);
    expect(await limiter.blockedFor('10.0.0.1', 'alice')).toBeUndefined();
  });
});

describe('BoundedMap (the memory store of the counters)', () => {
  it('works as a keyv store and forgets the oldest entries beyond its size', async () => {
    const map = new BoundedMap<string, unknown>(2);
    const kv = new Keyv({ store: map });
    await kv.set('a', 1);
    await kv.set('b', 2);
    await kv.set('c', 3);
    expect(await kv.get('a')).toBeUndefined();
    expect(await kv.get('c')).toBe(3);
    expect(map.size).toBe(2);
  });
});
