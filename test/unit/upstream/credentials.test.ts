import { describe, expect, it } from 'vitest';
import { basicAuthorization, resolveCredentials } from '../../../src/upstream/credentials.js';
import { usableLifetimeMs } from '../../../src/upstream/token-cache.js';

describe('upstream credentials', () => {
  it('resolves env-var indirection and builds Basic', () => {
    const c = resolveCredentials('hub', { username: 'u', passwordEnv: 'P' }, { P: 'secret' });
    expect(c).toEqual({ username: 'u', password: 'secret' });
    expect(basicAuthorization(c!)).toBe(`Basic ${Buffer.from('u:secret').toString('base64')}`);
    expect(resolveCredentials('hub', { tokenEnv: 'T' }, { T: 'tok' })).toEqual({ token: 'tok' });
    expect(resolveCredentials('hub', undefined, {})).toBeUndefined();
  });

  it('fails at start on a missing variable, naming the variable but not a value', () => {
    expect(() => resolveCredentials('hub', { username: 'u', passwordEnv: 'NOPE' }, {})).toThrow(/NOPE/);
    expect(() => resolveCredentials('hub', { password: 'p' }, {})).toThrow(/needs a username/);
  });

  it('renews tokens a margin before expiry, or at half-life for short tokens', () => {
    expect(usableLifetimeMs(300, 30)).toBe(270_000);
    expect(usableLifetimeMs(20, 30)).toBe(10_000);
  });
});
