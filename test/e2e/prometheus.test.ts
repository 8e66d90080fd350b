import { spawn, type ChildProcess } from 'node:child_process';
import { copyFile, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { freePort } from '../helpers/distribution.js';
import { listenLoopback } from '../helpers/metrics.js';
import { startRegistry, tmpDir, type RunningRegistry } from '../helpers/registry.js';

const PROMETHEUS = process.env.PROMETHEUS_BIN ?? '/usr/bin/prometheus';
const TOKEN = 'prometheus-e2e-token-0123456789';
const REQUESTS = 7;

let reg: RunningRegistry;
let secure: RunningRegistry;
let secureMetrics: Awaited<ReturnType<typeof listenLoopback>>;
let prometheus: ChildProcess;
let promUrl: string;
let workDir: string;
let promLog = '';

interface Vector {
  metric: Record<string, string>;
  value: [number, string];
}

async function query(expr: string): Promise<Vector[]> {
  const res = await fetch(`${promUrl}/api/v1/query?query=${encodeURIComponent(expr)}`);
  const body = (await res.json()) as { status: string; data: { resultType: string; result: Vector[] } };
  expect(body.status).toBe('success');
  return body.data.result;
}

/** Polls until `check` passes: Prometheus scrapes on its own schedule. */
async function eventually<T>(what: string, probe: () => Promise<T>, check: (v: T) => boolean, timeoutMs = 30_000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  let last: T | undefined;
  while (Date.now() < deadline) {
    last = await probe().catch(() => undefined);
    if (last !== undefined && check(last)) return last;
    await new Promise((r) => setTimeout(r, 250));
  }
  throw new Error(`timed out waiting for ${what}; last: ${JSON.stringify(last)}\nprometheus log:\n${promLog.slice(-3000)}`);
}

beforeAll(async () => {
  reg = await startRegistry();
  // A second registry the way the docs recommend for production: metrics on their own port, behind a token.
  // (Any non-zero port makes createRegistry build metricsApp; the test listens on it at port 0 itself.)
  secure = await startRegistry({ metrics: { port: 1, bearerToken: TOKEN } });
  secureMetrics = await listenLoopback(secure.registry.metricsApp!);

  workDir = await tmpDir('prometheus-');
  await copyFile(new URL('../../config/alerts.yml', import.meta.url), join(workDir, 'alerts.yml'));
  const promPort = await freePort();
  promUrl = `http://127.0.0.1:${promPort}`;
  await writeFile(
    join(workDir, 'prometheus.yml'),
    [
      'global:',
      '  scrape_interval: 1s',
      '  evaluation_interval: 1s',
      'rule_files:',
      '  - alerts.yml',
      'scrape_configs:',
      '  - job_name: registry',
      '    scrape_interval: 1s',
      '    metrics_path: /metrics',
      '    static_configs:',
      `      - targets: ['${reg.host}']`,
      '  - job_name: registry-secure',
      '    scrape_interval: 1s',
      '    metrics_path: /metrics',
      '    authorization:',
      '      type: Bearer',
      `      credentials: ${TOKEN}`,
      '    static_configs:',
      `      - targets: ['127.0.0.1:${secureMetrics.port}']`,
      '',
    ].join('\n'),
  );
  prometheus = spawn(
    PROMETHEUS,
    [
      `--config.file=${join(workDir, 'prometheus.yml')}`,
      `--storage.tsdb.path=${join(workDir, 'data')}`,
      `--web.listen-address=127.0.0.1:${promPort}`,
      '--log.level=warn',
    ],
    { stdio: ['ignore', 'pipe', 'pipe'] },
  );
  prometheus.stdout!.on('data', (d: Buffer) => (promLog += d.toString()));
  prometheus.stderr!.on('data', (d: Buffer) => (promLog += d.toString()));
  await eventually('Prometheus ready', () => fetch(`${promUrl}/-/ready`).then((r) => r.status), (s) => s === 200);
});

afterAll(async () => {
  if (prometheus && prometheus.exitCode === null) {
    const exited = new Promise((r) => prometheus.once('exit', r));
    prometheus.kill('SIGTERM');
    await exited;
  }
  await secureMetrics?.close();
  await secure?.close();
  await reg?.close();
  if (workDir) await rm(workDir, { recursive: true, force: true });
});

describe('a real Prometheus server scraping the registry', () => {
  it('finds both targets up and the request counter our requests caused', async () => {
    for (let i = 0; i < REQUESTS; i++) expect((await fetch(`${reg.url}/v2/`)).status).toBe(200);
    for (let i = 0; i < REQUESTS; i++) expect((await fetch(`${secure.url}/v2/`)).status).toBe(200);

    const up = await eventually('up == 1 for both jobs', () => query('up'), (r) => r.length === 2 && r.every((v) => v.value[1] === '1'));
    expect(up.map((v) => v.metric.job).sort()).toEqual(['registry', 'registry-secure']);
    expect(up.find((v) => v.metric.job === 'registry')!.metric.instance).toBe(reg.host);

    for (const job of ['registry', 'registry-secure']) {
      const series = await eventually(
        `the /v2/ request counter of ${job}`,
        () => query(`registry_http_requests_total{job="${job}",method="GET",route="/v2/",status="200"}`),
        (r) => r.length === 1 && r[0]!.value[1] === String(REQUESTS),
      );
      expect(series[0]!.metric).toMatchObject({ job, method: 'GET', route: '/v2/', status: '200' });
    }
    // Histograms and process metrics arrive too.
    const durations = await query('registry_http_request_duration_seconds_count{job="registry",route="/v2/"}');
    expect(durations[0]?.value[1]).toBe(String(REQUESTS));
    expect((await query('process_resident_memory_bytes{job="registry"}')).length).toBe(1);
  });

  it('loads the example alert rules and evaluates them without errors against our metrics', async () => {
    const res = await fetch(`${promUrl}/api/v1/rules`);
    const body = (await res.json()) as { data: { groups: Array<{ name: string; rules: Array<{ name: string; health: string; state: string }> }> } };
    const rules = body.data.groups.flatMap((g) => g.rules);
    expect(rules.map((r) => r.name)).toEqual(expect.arrayContaining(['RegistryUpstreamErrors', 'RegistryUpstreamDigestMismatch', 'RegistryDiskNearlyFull', 'RegistryHigh5xxRate']));
    await eventually('every rule evaluated', () => fetch(`${promUrl}/api/v1/rules`).then((r) => r.json() as Promise<typeof body>), (b) =>
      b.data.groups.flatMap((g) => g.rules).every((r) => r.health === 'ok'),
    );
  });
});
