import { request } from 'node:http';
import { afterEach, describe, expect, it } from 'vitest';
import { listenLoopback, parseMetrics, promtool, scrape, seriesKey } from '../../helpers/metrics.js';
import { makeImage, pullImage, pushPreparedImage } from '../../helpers/push-image.js';
import { startRegistry, type RunningRegistry } from '../../helpers/registry.js';

const TOKEN = 'metrics-test-token-0123456789';
const cleanups: Array<() => Promise<void>> = [];
afterEach(async () => {
  while (cleanups.length) await cleanups.pop()!();
});

async function start(metrics: Record<string, unknown> = {}): Promise<RunningRegistry> {
  const reg = await startRegistry({ metrics: { storeScanIntervalSeconds: 0, ...metrics } });
  cleanups.push(() => reg.close());
  return reg;
}

describe('/metrics', () => {
  it('serves the text format that promtool accepts, with every registry_ family and process metrics', async () => {
    const reg = await start();
    await pushPreparedImage(reg.url, makeImage('lint/app', 'v1'));
    await pullImage(reg.url, 'lint/app', 'v1');
    await fetch(`${reg.url}/v2/lint/app/manifests/missing`);
    await fetch(`${reg.url}/nowhere`);

    const res = await fetch(`${reg.url}/metrics`);
    expect(res.status).toBe(200);
    expect(res.headers.get('content-type')).toMatch(/^text\/plain; version=0\.0\.4/);
    const text = await res.text();

    const check = await promtool(['check', 'metrics'], text);
    expect(check.output).toBe('');
    expect(check.code).toBe(0);

    for (const family of [
      'registry_http_requests_total',
      'registry_http_request_duration_seconds',
      'registry_http_sent_bytes_total',
      'registry_http_received_bytes_total',
      'registry_http_requests_in_flight',
      'registry_store_blobs',
      'registry_store_bytes',
      'registry_store_filesystem_avail_bytes',
      'registry_uploads_in_progress',
      'process_resident_memory_bytes',
      'nodejs_eventloop_lag_seconds',
    ]) {
      expect(text, family).toContain(`# TYPE ${family} `);
    }
    const samples = parseMetrics(text);
    expect(samples.get(seriesKey('registry_http_requests_total', { method: 'GET', route: '/v2/:name/manifests/:reference', status: '404' }))).toBe(1);
    expect(samples.get(seriesKey('registry_http_requests_total', { method: 'GET', route: 'unmatched', status: '404' }))).toBe(1);
    // The push: config + 2 layers, hosted; the manifest is a blob too.
    expect(samples.get(seriesKey('registry_store_blobs', { origin: 'hosted' }))).toBe(4);
  });

  it('counts requests in flight (the scrape itself is one)', async () => {
    const reg = await start();
    expect(parseMetrics(await scrape(`${reg.url}/metrics`)).get('registry_http_requests_in_flight')).toBe(1);
    // An upload whose body is still arriving.
    const location = new URL((await fetch(`${reg.url}/v2/inflight/blobs/uploads/`, { method: 'POST' })).headers.get('location')!, reg.url);
    const slow = request(location, { method: 'PATCH', headers: { 'content-type': 'application/octet-stream', 'content-length': '10' } });
    slow.on('error', () => undefined);
    slow.write('12345');
    let inFlight: number | undefined;
    for (let i = 0; i < 50 && inFlight !== 2; i++) {
      inFlight = parseMetrics(await scrape(`${reg.url}/metrics`)).get('registry_http_requests_in_flight');
      if (inFlight !== 2) await new Promise((r) => setTimeout(r, 20));
    }
    expect(inFlight).toBe(2);
    const done = new Promise<number>((resolve) => slow.on('response', (res) => resolve(res.statusCode ?? 0)));
    slow.end('67890');
    expect(await done).toBe(202);
    for (let i = 0; i < 50 && inFlight !== 1; i++) {
      inFlight = parseMetrics(await scrape(`${reg.url}/metrics`)).get('registry_http_requests_in_flight');
      if (inFlight !== 1) await new Promise((r) => setTimeout(r, 20));
    }
    expect(inFlight).toBe(1);
  });

  it('can turn process metrics off, and metrics off entirely', async () => {
    const noProcess = await start({ processMetrics: false });
    const text = await scrape(`${noProcess.url}/metrics`);
    expect(text).toContain('registry_http_requests_total');
    expect(text).not.toContain('process_resident_memory_bytes');

    const off = await start({ enabled: false });
    expect((await fetch(`${off.url}/metrics`)).status).toBe(404);
    expect((await fetch(`${off.url}/readyz`)).status).toBe(200);
  });

  it('serves on a configured path', async () => {
    const reg = await start({ path: '/internal/prom' });
    expect((await fetch(`${reg.url}/internal/prom`)).status).toBe(200);
    expect((await fetch(`${reg.url}/metrics`)).status).toBe(404);
  });

  it('requires the bearer token when one is configured', async () => {
    const reg = await start({ bearerToken: TOKEN });
    const none = await fetch(`${reg.url}/metrics`);
    expect(none.status).toBe(401);
    expect(none.headers.get('www-authenticate')).toBe('Bearer realm="metrics"');
    expect(await none.text()).not.toContain('registry_');
    expect((await fetch(`${reg.url}/metrics`, { headers: { authorization: `Bearer ${TOKEN}x` } })).status).toBe(401);
    expect((await fetch(`${reg.url}/metrics`, { headers: { authorization: `Basic ${TOKEN}` } })).status).toBe(401);
    expect(await scrape(`${reg.url}/metrics`, TOKEN)).toContain('registry_http_requests_total');
    // The registry API is not affected by the metrics token.
    expect((await fetch(`${reg.url}/v2/`)).status).toBe(200);
  });

  it('serves on a separate port, not on the registry port, and counts registry traffic there', async () => {
    const reg = await start({ port: 19999, bearerToken: TOKEN });
    const metricsApp = reg.registry.metricsApp;
    expect(metricsApp).toBeDefined();
    const side = await listenLoopback(metricsApp!);
    cleanups.push(() => side.close());

    expect((await fetch(`${reg.url}/metrics`)).status).toBe(404);
    await fetch(`${reg.url}/v2/`);
    expect((await fetch(`${side.url}/metrics`)).status).toBe(401);
    const samples = parseMetrics(await scrape(`${side.url}/metrics`, TOKEN));
    expect(samples.get(seriesKey('registry_http_requests_total', { method: 'GET', route: '/v2/', status: '200' }))).toBe(1);
    expect((await fetch(`${side.url}/healthz`)).status).toBe(200);
    expect((await fetch(`${side.url}/readyz`)).status).toBe(200);
  });
});
