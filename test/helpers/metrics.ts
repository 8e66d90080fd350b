import { spawn } from 'node:child_process';
import { createServer, type RequestListener } from 'node:http';
import type { AddressInfo } from 'node:net';

export const PROMTOOL = process.env.PROMTOOL_BIN ?? '/usr/bin/promtool';

/** Series key → value, keyed as name{label="value",…} with labels sorted, so lookups need not know label order. */
export type Samples = Map<string, number>;

export async function scrape(url: string, token?: string): Promise<string> {
  const res = await fetch(url, token ? { headers: { authorization: `Bearer ${token}` } } : {});
  if (res.status !== 200) throw new Error(`scrape ${url}: ${res.status} ${await res.text()}`);
  return res.text();
}

const LINE = /^([a-zA-Z_:][a-zA-Z0-9_:]*)(?:\{(.*)\})?\s+(\S+)(?:\s+\d+)?$/;
const LABEL = /([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\]|\\.)*)"/g;

/** Parses the Prometheus text format (what prom-client writes). */
export function parseMetrics(text: string): Samples {
  const samples: Samples = new Map();
  for (const line of text.split('\n')) {
    if (line === '' || line.startsWith('#')) continue;
    const m = LINE.exec(line);
    if (!m) throw new Error(`unparseable exposition line: ${line}`);
    const labels: Record<string, string> = {};
    for (const l of (m[2] ?? '').matchAll(LABEL)) labels[l[1]!] = l[2]!;
    samples.set(seriesKey(m[1]!, labels), Number(m[3]));
  }
  return samples;
}

export function seriesKey(name: string, labels: Record<string, string> = {}): string {
  const parts = Object.keys(labels)
    .sort()
    .map((k) => `${k}="${labels[k]}"`);
  return parts.length ? `${name}{${parts.join(',')}}` : name;
}

/** Series whose value changed between two scrapes (new series count from 0), optionally only names with a prefix. */
export function deltas(before: Samples, after: Samples, prefix = ''): Map<string, number> {
  const out = new Map<string, number>();
  for (const [key, value] of after) {
    if (!key.startsWith(prefix)) continue;
    const d = value - (before.get(key) ?? 0);
    if (d !== 0) out.set(key, d);
  }
  return out;
}

/** Every value label `label` takes among series of metric `name`. */
export function labelValues(samples: Samples, name: string, label: string): Set<string> {
  const values = new Set<string>();
  const re = new RegExp(`[{,]${label}="((?:[^"\\\\]|\\\\.)*)"`);
  for (const key of samples.keys()) {
    if (!key.startsWith(`${name}{`)) continue;
    const m = re.exec(key);
    if (m) values.add(m[1]!);
  }
  return values;
}

/** Runs a promtool subcommand, feeding `stdin`; resolves with its exit code and combined output. */
export function promtool(args: string[], stdin?: string): Promise<{ code: number; output: string }> {
  return new Promise((resolve, reject) => {
    const child = spawn(PROMTOOL, args, { stdio: ['pipe', 'pipe', 'pipe'] });
    let output = '';
    child.stdout.on('data', (d: Buffer) => (output += d.toString()));
    child.stderr.on('data', (d: Buffer) => (output += d.toString()));
    child.on('error', reject);
    child.on('close', (code) => resolve({ code: code ?? -1, output }));
    child.stdin.end(stdin ?? '');
  });
}

/** Listens on 127.0.0.1 port 0 (e.g. a registry's separate metricsApp). */
export async function listenLoopback(app: RequestListener): Promise<{ url: string; port: number; close(): Promise<void> }> {
  const server = createServer(app);
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}`,
    port,
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}

/** A histogram's observation count for the series whose labels include `labels` (read in-process, no scrape). */
export async function histogramCount(metric: { get(): Promise<{ values: Array<{ metricName?: string; labels: object; value: number }> }> }, labels: Record<string, string>): Promise<number> {
  const { values } = await metric.get();
  return values
    .filter((v) => v.metricName?.endsWith('_count') && Object.entries(labels).every(([k, want]) => (v.labels as Record<string, unknown>)[k] === want))
    .reduce((n, v) => n + v.value, 0);
}

/** Polls `check` until it returns true (work that finishes after the client's response, e.g. a cache fill's commit). */
export async function until(what: string, check: () => Promise<boolean>, timeoutMs = 10_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 20));
  }
}
