import { describe, expect, it } from 'vitest';
import { grantsAllow, inNamespace, VisibilityPolicy } from '../../../src/auth/policy.js';
import { bearerChallenge, parseScopes } from '../../../src/auth/scope.js';
import { parseAuthorization } from '../../../src/auth/credentials.js';

describe('namespaces and scopes', () => {
  it('a namespace covers itself and what is below it, not siblings sharing a prefix', () => {
    expect(inNamespace('acme', 'acme/app')).toBe(true);
    expect(inNamespace('acme/', 'acme/backend/api')).toBe(true);
    expect(inNamespace('acme', 'acme')).toBe(true);
    expect(inNamespace('acme', 'acmeevil/app')).toBe(false);
    expect(inNamespace('acme/backend', 'acme/app')).toBe(false);
    expect(inNamespace('*', 'anything/at/all')).toBe(true);
  });

  it('read pulls; write pulls and pushes; delete pulls and deletes', () => {
    const g = (scope: 'read' | 'write' | 'delete') => [{ namespace: 'acme', scopes: [scope] }];
    expect(['pull', 'push', 'delete'].map((a) => grantsAllow(g('read'), 'acme/x', a as 'pull'))).toEqual([true, false, false]);
    expect(['pull', 'push', 'delete'].map((a) => grantsAllow(g('write'), 'acme/x', a as 'pull'))).toEqual([true, true, false]);
    expect(['pull', 'push', 'delete'].map((a) => grantsAllow(g('delete'), 'acme/x', a as 'pull'))).toEqual([true, false, true]);
    expect(grantsAllow(g('write'), 'other/x', 'pull')).toBe(false);
  });

  it('visibility: the longest matching prefix wins, the default covers the rest', () => {
    const p = new VisibilityPolicy(
      [
        { prefix: 'acme/', visibility: 'public' },
        { prefix: 'acme/secret/', visibility: 'private' },
      ],
      'private',
    );
    expect(p.isPublic('acme/app')).toBe(true);
    expect(p.isPublic('acme/secret/app')).toBe(false);
    expect(p.isPublic('other/app')).toBe(false);
    expect(new VisibilityPolicy([], 'public').isPublic('x/y')).toBe(true);
  });
});

describe('scope parsing and challenges', () => {
  it('parses repository and catalog scopes, merges duplicates, drops nonsense', () => {
    expect(parseScopes(['repository:acme/app:pull,push', 'repository:acme/app:delete registry:catalog:*', 'repository:BAD NAME:pull', 'foo:bar:baz', 'repository:x/y:fly'])).toEqual([
      { type: 'repository', name: 'acme/app', actions: ['pull', 'push', 'delete'] },
      { type: 'registry', name: 'catalog', actions: ['*'] },
    ]);
    expect(parseScopes(['repository(plugin):acme/app:*'])).toEqual([{ type: 'repository', name: 'acme/app', actions: ['pull', 'push', 'delete'] }]);
  });

  it('formats the challenge docker and containerd read', () => {
    expect(bearerChallenge('http://h:5000/token', 'registry', [{ type: 'repository', name: 'acme/app', actions: ['pull', 'push'] }], 'insufficient_scope')).toBe(
      'Bearer realm="http://h:5000/token",service="registry",scope="repository:acme/app:pull,push",error="insufficient_scope"',
    );
    expect(bearerChallenge('http://h/token', 'svc', [])).toBe('Bearer realm="http://h/token",service="svc"');
  });

  it('parses Authorization headers', () => {
    expect(parseAuthorization(undefined)).toBeUndefined();
    expect(parseAuthorization(`Basic ${Buffer.from('u:p:w').toString('base64')}`)).toEqual({ scheme: 'basic', user: 'u', password: 'p:w' });
    expect(parseAuthorization('bearer abc')).toEqual({ scheme: 'bearer', token: 'abc' });
    expect(parseAuthorization('Digest x')).toEqual({ scheme: 'other' });
  });
});
