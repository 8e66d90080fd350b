import { spawn, type ChildProcess } from 'node:child_process';
import { rm } from 'node:fs/promises';
import { get } from 'node:http';
import { fileURLToPath } from 'node:url';
import { afterAll, describe, expect, it } from 'vitest';
import { freePort } from '../../helpers/distribution.js';
import { tmpDir } from '../../helpers/registry.js';

const ROOT = fileURLToPath(new URL('../../../', import.meta.url));
const TOKEN = 'process-test-token-0123456789';

let child: ChildProcess | undefined;
let dataDir: string | undefined;
const cleanups: Array<() => Promise<void>> = [];
afterAll(async () => {
  if (child && child.exitCode === null) child.kill('SIGKILL');
  if (dataDir) await rm(dataDir, { recursive: true, force: true });
  for (const c of cleanups) await c();
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

/** GET on a connection of its own, so node:cluster (round-robin per connection) may hand it to any worker. */
function getFresh(url: string, headers: Record<string, string> = {}): Promise<{ status: number; body: string }> {
  return new Promise((resolve, reject) => {
    get(url, { agent: false, headers }, (res) => {
      let body = '';
      res.setEncoding('utf8');
      res.on('data', (d: string) => (body += d));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body }));
    }).on('error', reject);
  });
}

function sample(text: string, series: string): number | undefined {
  const line = text.split('\n').find((l) => l.startsWith(`${series} `));
  return line === undefined ? undefined : Number(line.slice(series.length + 1));
}

describe('src/main.ts with two workers', () => {
  it('one scrape counts the requests every worker served; store gauges are not multiplied by the workers', async () => {
    const dir = await tmpDir('metrics-workers-');
    const metricsPort = await freePort();
    const proc = spawn(process.execPath, ['--import', 'tsx', 'src/main.ts'], {
      cwd: ROOT,
      env: env({
        HOST: '127.0.0.1',
        PORT: '0',
        DATA_DIR: dir,
        REGISTRY_SERVER__WORKERS: '2',
        REGISTRY_STORAGE__MIN_FREE_BYTES: '12345',
        REGISTRY_METRICS__PORT: String(metricsPort),
      }),
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    const exited = new Promise<number | null>((resolve) => proc.on('exit', (code) => resolve(code)));
    cleanups.push(async () => {
      if (proc.exitCode === null) proc.kill('SIGKILL');
      await rm(dir, { recursive: true, force: true });
    });
    let output = '';
    proc.stdout!.on('data', (d: Buffer) => (output += d.toString()));
    proc.stderr!.on('data', (d: Buffer) => (output += d.toString()));

    // Both workers listening on both ports (each logs it once).
    const deadline = Date.now() + 60_000;
    let registryPort: number | undefined;
    while (registryPort === undefined || output.split('metrics listening').length - 1 < 2) {
      if (Date.now() > deadline || proc.exitCode !== null) throw new Error(`did not start:\n${output}`);
      const m = /"port":(\d+)[^\n]*registry listening/.exec(output);
      if (m) registryPort = Number(m[1]);
      await new Promise((r) => setTimeout(r, 50));
    }

    const N = 10;
    for (let i = 0; i < N; i++) expect((await getFresh(`http://127.0.0.1:${registryPort}/v2/`)).status).toBe(200);

    // Every scrape (each on its own connection, so both workers answer some) sees all N requests.
    const series = 'registry_http_requests_total{method="GET",route="/v2/",status="200"}';
    for (let i = 0; i < 4; i++) {
      const scrape = await getFresh(`http://127.0.0.1:${metricsPort}/metrics`);
      expect(scrape.status).toBe(200);
      expect(sample(scrape.body, series)).toBe(N);
      expect(sample(scrape.body, 'registry_http_request_duration_seconds_count{method="GET",route="/v2/"}')).toBe(N);
      // A gauge every worker sets to the same value is reported once, not summed over the workers.
      expect(sample(scrape.body, 'registry_store_filesystem_min_free_bytes')).toBe(12345);
      expect(sample(scrape.body, 'nodejs_version_info{version="' + process.version + '",major="' + process.versions.node.split('.')[0] + '",minor="' + process.versions.node.split('.')[1] + '",patch="' + process.versions.node.split('.')[2] + '"}')).toBe(1);
    }

    proc.kill('SIGTERM');
    expect(await exited).toBe(0);
  }, 90_000);
});
