import { spawn, type ChildProcess } from 'node:child_process';
import { rm } from 'node:fs/promises';
import { fileURLToPath } from 'node:url';
import { afterAll, describe, expect, it } from 'vitest';
import { freePort } from '../../helpers/distribution.js';
import { tmpDir } from '../../helpers/registry.js';

const ROOT = fileURLToPath(new URL('../../../', import.meta.url));
const TOKEN = 'process-test-token-0123456789';

let child: ChildProcess | undefined;
let dataDir: string | undefined;
afterAll(async () => {
  if (child && child.exitCode === null) child.kill('SIGKILL');
  if (dataDir) await rm(dataDir, { recursive: true, force: true });
});

/** The environment without any registry settings the runner may carry, plus ours. */
function env(extra: Record<string, string>): NodeJS.ProcessEnv {
  const out: NodeJS.ProcessEnv = {};
  for (const [k, v] of Object.entries(process.env)) {
    if (!k.startsWith('REGISTRY_') && !['PORT', 'HOST', 'DATA_DIR', 'LOG_LEVEL', 'REDIS_URL'].includes(k)) out[k] = v;
  }
  return { ...out, ...extra };
}

describe('src/main.ts with metrics on a separate port', () => {
  it('listens on metrics.port with the token from bearerTokenEnv, not on the registry port, and stops on SIGTERM', async () => {
    dataDir = await tmpDir('metrics-process-');
    const metricsPort = await freePort();
    child = spawn(process.execPath, ['--import', 'tsx', 'src/main.ts'], {
      cwd: ROOT,
      env: env({
        HOST: '127.0.0.1',
        PORT: '0',
        DATA_DIR: dataDir,
        REGISTRY_METRICS__PORT: String(metricsPort),
        REGISTRY_METRICS__BEARER_TOKEN_ENV: 'SCRAPE_TOKEN',
        SCRAPE_TOKEN: TOKEN,
      }),
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let output = '';
    child.stdout!.on('data', (d: Buffer) => (output += d.toString()));
    child.stderr!.on('data', (d: Buffer) => (output += d.toString()));
    const exited = new Promise<number | null>((resolve) => child!.on('exit', (code) => resolve(code)));

    const deadline = Date.now() + 30_000;
    let registryPort: number | undefined;
    while (registryPort === undefined || !output.includes('metrics listening')) {
      if (Date.now() > deadline || child.exitCode !== null) throw new Error(`did not start:\n${output}`);
      const m = /"port":(\d+)[^\n]*registry listening/.exec(output);
      if (m) registryPort = Number(m[1]);
      await new Promise((r) => setTimeout(r, 50));
    }
    expect(output).toContain(`"port":${metricsPort}`);
    expect(output).not.toContain(TOKEN);

    expect((await fetch(`http://127.0.0.1:${registryPort}/v2/`)).status).toBe(200);
    expect((await fetch(`http://127.0.0.1:${registryPort}/metrics`)).status).toBe(404);
    expect((await fetch(`http://127.0.0.1:${metricsPort}/metrics`)).status).toBe(401);
    const res = await fetch(`http://127.0.0.1:${metricsPort}/metrics`, { headers: { authorization: `Bearer ${TOKEN}` } });
    expect(res.status).toBe(200);
    expect(await res.text()).toContain('registry_http_requests_total{method="GET",route="/v2/",status="200"} 1');
    expect((await fetch(`http://127.0.0.1:${metricsPort}/readyz`)).status).toBe(200);

    child.kill('SIGTERM');
    expect(await exited).toBe(0);
  });
});
