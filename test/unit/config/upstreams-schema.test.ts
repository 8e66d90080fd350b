import { describe, expect, it } from 'vitest';
import { readFile } from 'node:fs/promises';
import { parse } from 'yaml';
import { ConfigError, loadConfig, parseConfig } from '../../../src/config/load.js';

const hub = { name: 'dockerhub', url: 'https://registry-1.docker.io', prefix: 'docker.io/', default: true, dockerHub: true };

describe('upstreams config', () => {
  it('fills defaults', () => {
    const [u] = parseConfig({ upstreams: [hub] }).upstreams;
    expect(u).toMatchObject({ tagTtlSeconds: 300, enabled: true, maxConcurrency: 8, allowHostedShadow: false, listTtlSeconds: 30 });
  });

  it('rejects unknown keys with their path', () => {
    expect(() => parseConfig({ upstreams: [{ ...hub, ttl: 5 }] })).toThrow(/upstreams\.0.*ttl/s);
    expect(() => parseConfig({ upstreams: [{ ...hub, credentials: { user: 'x' } }] })).toThrow(ConfigError);
  });

  it('rejects unroutable, duplicate and ambiguous upstreams', () => {
    expect(() => parseConfig({ upstreams: [{ name: 'x', url: 'https://x.io' }] })).toThrow(/prefix, namespaces or default/);
    expect(() => parseConfig({ upstreams: [hub, { ...hub, name: 'other', prefix: 'other.io/' }] })).toThrow(/at most one/);
    expect(() => parseConfig({ upstreams: [hub, { ...hub, default: false }] })).toThrow(/duplicate upstream name/);
    expect(() => parseConfig({ upstreams: [{ ...hub, prefix: 'docker.io' }] })).toThrow(/prefix/);
    expect(() => parseConfig({ upstreams: [{ ...hub, credentials: { password: 'a', passwordEnv: 'B' } }] })).toThrow(/not both/);
    expect(() => parseConfig({ upstreams: [{ ...hub, url: 'https://u:p@registry-1.docker.io' }] })).toThrow(/use credentials/);
    expect(() => parseConfig({ upstreams: [{ ...hub, url: 'ftp://x' }] })).toThrow(/http/);
  });

  it('the commented examples in config/default.yaml are valid once uncommented', async () => {
    const text = await readFile(new URL('../../../config/default.yaml', import.meta.url), 'utf8');
    const lines = text.slice(text.indexOf('# upstreams:\n')).split('\n');
    const end = lines.findIndex((l) => !l.startsWith('#'));
    const block = lines.slice(0, end).map((l) => l.replace(/^# ?/, '')).join('\n');
    const parsed = parse(block) as { upstreams: unknown[] };
    const config = parseConfig({ upstreams: parsed.upstreams });
    expect(config.upstreams.map((u) => u.name)).toEqual(['dockerhub', 'ghcr', 'quay']);
    expect(parseConfig(parse(text) as Record<string, unknown>).upstreams).toEqual([]);
  });

  it('hostedNamespaces: prefixes, a trailing slash added, settable from the environment', async () => {
    expect(parseConfig({}).hostedNamespaces).toEqual([]);
    expect(parseConfig({ hostedNamespaces: ['acme', 'internal/tools/'] }).hostedNamespaces).toEqual(['acme/', 'internal/tools/']);
    for (const bad of ['*', 'Acme/', '/acme', 'acme//x', '']) expect(() => parseConfig({ hostedNamespaces: [bad] }), bad).toThrow(ConfigError);
    const fromEnv = await loadConfig({ env: { REGISTRY_HOSTED_NAMESPACES: '[acme, internal/]' } });
    expect(fromEnv.hostedNamespaces).toEqual(['acme/', 'internal/']);
  });
});
