import { describe, expect, it } from 'vitest';
import { parseChallenges, pickChallenge } from '../../../src/upstream/challenge.js';

describe('WWW-Authenticate parsing', () => {
  it('reads a Docker Hub Bearer challenge with a comma inside a quoted scope', () => {
    const [c] = parseChallenges('Bearer realm="https://auth.docker.io/token",service="registry.docker.io",scope="repository:library/alpine:pull,push"');
    expect(c).toEqual({ scheme: 'bearer', params: { realm: 'https://auth.docker.io/token', service: 'registry.docker.io', scope: 'repository:library/alpine:pull,push' } });
  });

  it('reads error params, unquoted values and escaped quotes', () => {
    const [c] = parseChallenges('Bearer realm="http://h/token",error=invalid_token,error_description="say \\"hi\\""');
    expect(c!.params).toEqual({ realm: 'http://h/token', error: 'invalid_token', error_description: 'say "hi"' });
  });

  it('reads Basic and several challenges, preferring Bearer', () => {
    const all = parseChallenges(['Basic realm="Registry Realm"', 'Bearer realm="http://t/token",service="s"']);
    expect(all.map((c) => c.scheme)).toEqual(['basic', 'bearer']);
    expect(pickChallenge(all)!.scheme).toBe('bearer');
    expect(pickChallenge(parseChallenges('basic realm="x"'))!.scheme).toBe('basic');
    expect(parseChallenges('Basic realm="a", Bearer realm="b"').map((c) => c.params.realm)).toEqual(['a', 'b']);
  });

  it('ignores junk', () => {
    expect(parseChallenges(undefined)).toEqual([]);
    expect(pickChallenge(parseChallenges('Bearer service="no realm"'))).toBeUndefined();
  });
});
