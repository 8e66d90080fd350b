import { describe, expect, it } from 'vitest';
import { parseConfig } from '../../../src/config/load.js';
import { UpstreamRouter } from '../../../src/proxy/upstream-router.js';
import type { UpstreamClient } from '../../../src/upstream/upstream-client.js';

function router(upstreams: Record<string, unknown>[]) {
  const configs = parseConfig({ upstreams }).upstreams;
  return new UpstreamRouter(configs.map((config) => ({ config, client: { name: config.name } as UpstreamClient })));
}

const hub = { name: 'hub', url: 'https://registry-1.docker.io', prefix: 'docker.io/', default: true, dockerHub: true };
const ghcr = { name: 'ghcr', url: 'https://ghcr.io', prefix: 'ghcr.io/' };

describe('name → upstream routing', () => {
  const r = router([hub, ghcr, { name: 'off', url: 'https://quay.io', prefix: 'quay.io/', enabled: false }]);
  const route = (name: string, ns?: string) => {
    const m = r.route(name, ns);
    return m && { upstream: m.upstream.config.name, remote: m.remoteName, local: m.localName };
  };

  it('applies Docker Hub rules under every spelling', () => {
    const want = { upstream: 'hub', remote: 'library/alpine', local: 'docker.io/library/alpine' };
    expect(route('alpine')).toEqual(want);
    expect(route('library/alpine')).toEqual(want);
    expect(route('docker.io/library/alpine')).toEqual(want);
    expect(route('docker.io/alpine')).toEqual(want);
    expect(route('library/alpine', 'docker.io')).toEqual(want);
    expect(route('bitnami/redis')).toEqual({ upstream: 'hub', remote: 'bitnami/redis', local: 'docker.io/bitnami/redis' });
  });

  it('routes by prefix and by containerd ns; no Docker Hub rule elsewhere', () => {
    expect(route('ghcr.io/owner/app')).toEqual({ upstream: 'ghcr', remote: 'owner/app', local: 'ghcr.io/owner/app' });
    expect(route('owner/app', 'ghcr.io')).toEqual({ upstream: 'ghcr', remote: 'owner/app', local: 'ghcr.io/owner/app' });
    expect(route('tool', 'ghcr.io')).toEqual({ upstream: 'ghcr', remote: 'tool', local: 'ghcr.io/tool' });
  });

  it('an unknown ns or a disabled upstream selects nothing (hosted)', () => {
    expect(route('owner/app', 'quay.io')).toBeUndefined();
    expect(route('quay.io/owner/app')).toEqual({ upstream: 'hub', remote: 'quay.io/owner/app', local: 'docker.io/quay.io/owner/app' });
  });

  it('without a default, unmatched names stay hosted', () => {
    const only = router([ghcr]);
    expect(only.route('team/app')).toBeUndefined();
  });

  it('hostedNamespaces win over prefix, ns hint and default; the refusal names the namespace to add', () => {
    const configs = parseConfig({ upstreams: [hub], hostedNamespaces: ['acme', 'docker.io/team/'] });
    expect(configs.hostedNamespaces).toEqual(['acme/', 'docker.io/team/']);
    const r2 = new UpstreamRouter(configs.upstreams.map((config) => ({ config, client: { name: config.name } as UpstreamClient })), configs.hostedNamespaces);
    for (const name of ['acme', 'acme/app', 'acme/a/b', 'docker.io/team/app']) expect(r2.route(name), name).toBeUndefined();
    expect(r2.route('acme/app', 'docker.io')).toBeUndefined();
    expect(r2.route('acmecorp/app')?.localName).toBe('docker.io/acmecorp/app');
    expect(r2.route('other/app')?.hostedNamespace).toBe('other/');
    expect(r2.route('docker.io/other/app')?.hostedNamespace).toBe('docker.io/other/');
    expect(() => parseConfig({ hostedNamespaces: ['Acme/'] })).toThrow();
  });
});
