import { execFile } from 'node:child_process';
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { describe, expect, it } from 'vitest';
import { ConfigError, loadConfig, parseConfig } from '../../../src/config/load.js';
import { tmpDir } from '../../helpers/registry.js';

const DEFAULT_YAML = fileURLToPath(new URL('../../../config/default.yaml', import.meta.url));
const ROOT = fileURLToPath(new URL('../../../', import.meta.url));
const run = promisify(execFile);

async function loadError(options: Parameters<typeof loadConfig>[0]): Promise<string> {
  try {
    await loadConfig(options);
  } catch (err) {
    expect(err).toBeInstanceOf(ConfigError);
    return (err as Error).message;
  }
  throw new Error('expected loadConfig to fail');
}

async function yamlFile(text: string): Promise<string> {
  const file = join(await tmpDir('cfg-'), 'config.yaml');
  await writeFile(file, text);
  return file;
}

describe('loadConfig', () => {
  it('config/default.yaml parses to exactly the embedded schema defaults', async () => {
    const fromFile = await loadConfig({ file: DEFAULT_YAML, env: {} });
    expect(fromFile).toEqual(parseConfig({}));
  });

  it('runs on embedded defaults with no file and no env', async () => {
    const config = await loadConfig({ env: {} });
    expect(config.server.port).toBe(5000);
    expect(config.storage.deleteEnabled).toBe(true);
    expect(Object.isFrozen(config.storage)).toBe(true);
  });

  it('overlays REGISTRY_<SECTION>__<KEY> onto the file, typed', async () => {
    const config = await loadConfig({
      file: DEFAULT_YAML,
      env: { REGISTRY_STORAGE__DELETE_ENABLED: 'false', REGISTRY_STORAGE__MAX_MANIFEST_BYTES: '1024', REGISTRY_SERVER__SHUTDOWN_TIMEOUT_SECONDS: '5' },
    });
    expect(config.storage.deleteEnabled).toBe(false);
    expect(config.storage.maxManifestBytes).toBe(1024);
    expect(config.server.shutdownTimeoutSeconds).toBe(5);
  });

  it('honours the PORT and DATA_DIR shortcuts (0 = any port)', async () => {
    const config = await loadConfig({ env: { PORT: '0', DATA_DIR: '/tmp/some-data', HOST: '127.0.0.1' } });
    expect(config.server.port).toBe(0);
    expect(config.storage.dataDir).toBe('/tmp/some-data');
    expect(config.server.host).toBe('127.0.0.1');
  });

  it('keeps string settings as strings even when they look like YAML', async () => {
    const config = await loadConfig({ env: { DATA_DIR: '2024', REGISTRY_STORAGE__DATA_DIR: undefined } });
    expect(config.storage.dataDir).toBe('2024');
    const odd = await loadConfig({ env: { DATA_DIR: '/srv/reg: data' } });
    expect(odd.storage.dataDir).toBe('/srv/reg: data');
    const viaPrefix = await loadConfig({ env: { REGISTRY_STORAGE__DATA_DIR: 'true' } });
    expect(viaPrefix.storage.dataDir).toBe('true');
  });

  it('reads a list from the environment alone (yaml loads for it) and needs no yaml for string settings', async () => {
    const config = await loadConfig({ env: { REGISTRY_HOSTED_NAMESPACES: '[team, ci]', HOST: '127.0.0.1' } });
    expect(config.hostedNamespaces).toEqual(['team/', 'ci/']);
    expect(config.server.host).toBe('127.0.0.1');
    // Idle memory: the settings bench and npm start use (HOST=127.0.0.1, a data path) must not load yaml.
    const probe = [
      "import { createRequire } from 'node:module';",
      "const { loadConfig } = await import('./src/config/load.ts');",
      "const c = await loadConfig({ env: { HOST: '127.0.0.1', PORT: '0', DATA_DIR: '/tmp/a:b', LOG_LEVEL: 'warn', REGISTRY_SERVER__WORKERS: '1' } });",
      "const loaded = Object.keys(createRequire(import.meta.url).cache).some((k) => k.includes('/node_modules/yaml/'));",
      'console.log(JSON.stringify({ host: c.server.host, dataDir: c.storage.dataDir, yaml: loaded }));',
    ].join('\n');
    const { stdout } = await run(process.execPath, ['--import', 'tsx', '--input-type=module', '-e', probe], { cwd: ROOT });
    expect(JSON.parse(stdout.trim())).toEqual({ host: '127.0.0.1', dataDir: '/tmp/a:b', yaml: false });
  });

  it('an unknown key in the file fails naming its path', async () => {
    const file = await yamlFile('server:\n  port: 5000\n  prot: 5001\n');
    expect(await loadError({ file, env: {} })).toContain('server.prot');
    const top = await yamlFile('storgae:\n  dataDir: /x\n');
    expect(await loadError({ file: top, env: {} })).toContain('storgae');
  });

  it('an unknown key from the environment fails naming its path', async () => {
    expect(await loadError({ env: { REGISTRY_STORAGE__DELETE_ENABLE: 'false' } })).toContain('storage.deleteEnable');
  });

  it('an invalid value fails naming the key', async () => {
    expect(await loadError({ env: { REGISTRY_SERVER__PORT: 'abc' } })).toContain('server.port');
    expect(await loadError({ env: { PORT: '70000' } })).toContain('server.port');
    expect(await loadError({ env: { REGISTRY_STORAGE__DELETE_ENABLED: 'maybe' } })).toContain('storage.deleteEnabled');
    expect(await loadError({ env: { REGISTRY_LOG__LEVEL: 'loud' } })).toContain('log.level');
  });

  it('a missing or malformed file fails clearly', async () => {
    expect(await loadError({ file: '/nonexistent/registry.yaml', env: {} })).toContain('/nonexistent/registry.yaml');
    const bad = await yamlFile('server: [unclosed\n');
    expect(await loadError({ file: bad, env: {} })).toContain('not valid YAML');
  });
});
