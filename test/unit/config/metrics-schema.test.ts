import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ConfigError, loadConfig, parseConfig } from '../../../src/config/load.js';

let dir: string;
beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'metrics-config-'));
});
afterAll(() => rm(dir, { recursive: true, force: true }));

async function fromYaml(yaml: string, env: Record<string, string> = {}) {
  const file = join(dir, `${Math.random().toString(36).slice(2)}.yaml`);
  await writeFile(file, yaml);
  return loadConfig({ file, env });
}

describe('metrics config', () => {
  it('defaults: on, /metrics on the registry port, no token, process metrics, 60 s store scans', () => {
    expect(parseConfig({}).metrics).toEqual({ enabled: true, path: '/metrics', port: 0, processMetrics: true, storeScanIntervalSeconds: 60 });
  });

  it('the documented config/default.yaml parses to the same defaults', async () => {
    const config = await loadConfig({ file: new URL('../../../config/default.yaml', import.meta.url).pathname });
    expect(config.metrics).toEqual(parseConfig({}).metrics);
  });

  it('rejects unknown keys, short tokens, paths under /v2/ and bad ports, naming the key', () => {
    expect(() => parseConfig({ metrics: { enable: true } })).toThrow(/metrics: .*metrics\.enable/s);
    expect(() => parseConfig({ metrics: { bearerToken: 'short' } })).toThrow(/metrics\.bearerToken/);
    expect(() => parseConfig({ metrics: { path: '/v2/metrics' } })).toThrow(/metrics\.path/);
    expect(() => parseConfig({ metrics: { path: 'metrics' } })).toThrow(/metrics\.path/);
    expect(() => parseConfig({ metrics: { port: 70000 } })).toThrow(/metrics\.port/);
  });

  it('takes every key from the environment', async () => {
    const config = await loadConfig({
      env: { REGISTRY_METRICS__PORT: '9102', REGISTRY_METRICS__ENABLED: 'false', REGISTRY_METRICS__PROCESS_METRICS: 'false', REGISTRY_METRICS__BEARER_TOKEN: 'x'.repeat(20) },
    });
    expect(config.metrics).toMatchObject({ port: 9102, enabled: false, processMetrics: false, bearerToken: 'x'.repeat(20) });
  });

  it('reads the bearer token from the variable named by bearerTokenEnv', async () => {
    const config = await fromYaml('metrics:\n  bearerTokenEnv: SCRAPE_TOKEN\n', { SCRAPE_TOKEN: 'from-the-environment-123' });
    expect(config.metrics.bearerToken).toBe('from-the-environment-123');
  });

  it('fails at start when the named variable is unset, so a typo cannot leave /metrics open', async () => {
    await expect(fromYaml('metrics:\n  bearerTokenEnv: SCRAPE_TOKEN\n')).rejects.toThrow(ConfigError);
    await expect(fromYaml('metrics:\n  bearerTokenEnv: SCRAPE_TOKEN\n')).rejects.toThrow(/SCRAPE_TOKEN is not set/);
  });
});
