/**
 * Mixed load (issue 10, item 11), not part of `npm test`: `npm run bench:mixed`.
 *
 * For ours and the peer (Debian's docker-registry 2.8) in the same run, one after the other:
 *   - BENCH_MIXED_CONNECTIONS (200) connections of manifest GETs by tag (wrk, else a Node loop),
 *   - BENCH_MIXED_PUSHERS (20) clients each pushing BENCH_MIXED_PUSH_MIB (50) MiB blobs back to back
 *     (POST + one streaming PUT ?digest=), for BENCH_MIXED_SECONDS (20) s,
 *   - a probe: `GET /v2/` on a fresh connection every 50 ms, timed from connect to the last byte.
 * Prints push throughput, pushes completed and verified, the probe's p50/p99/max and the first probe
 * after load onset, manifest req/s, 5xx answers and peak RSS. BENCH_WORKERS sets our server.workers
 * (default 1), so the same load can be run on one process and on a cluster.
 */
import { createWriteStream } from 'node:fs';
import { rm } from 'node:fs/promises';
import { request } from 'node:http';
import { cpus, loadavg } from 'node:os';
import { join } from 'node:path';
import { spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { pipeline } from 'node:stream/promises';
import { DigestingStream } from '../src/oci/digest.js';
import { seededBytes } from '../test/helpers/oci-layout.js';
import { OCI_MANIFEST, pushImage } from '../test/helpers/push.js';
import { tmpDir } from '../test/helpers/registry.js';
import { manifestLoad, pushBlobFile } from './http-load.js';
import { peakRss, startOurs, startPeer, withRssSampling, type BenchServer } from './servers.js';

const MiB = 1024 * 1024;
const env = (name: string, fallback: number) => Number(process.env[name] ?? fallback);
const SECONDS = env('BENCH_MIXED_SECONDS', 20);
const CONNECTIONS = env('BENCH_MIXED_CONNECTIONS', 200);
const PUSHERS = env('BENCH_MIXED_PUSHERS', 20);
const PUSH_BYTES = env('BENCH_MIXED_PUSH_MIB', 50) * MiB;
const PROBE_MS = 50;

interface Result {
  manifestRps: number;
  manifestErrors: number;
  pushes: number;
  pushFailures: number;
  pushMBps: number;
  probes: number[];
  connects: number[];
  firstProbe: number;
  peakRss: number;
}

const percentile = (xs: readonly number[], p: number) => {
  const s = [...xs].sort((a, b) => a - b);
  return s.length === 0 ? NaN : s[Math.min(s.length - 1, Math.ceil((p / 100) * s.length) - 1)]!;
};

/**
 * GET /v2/ on its own connection: [connect + request + answer, TCP connect alone] in ms; -1 when it
 * failed. The connect time tells a request waiting inside the server from one waiting for the kernel
 * to accept its connection (a full accept queue drops SYNs, which are retried after 1 s, 3 s, ...).
 */
function probe(base: string): Promise<[number, number]> {
  return new Promise((resolve) => {
    const t = performance.now();
    let connected = -1;
    const req = request(`${base}/v2/`, { agent: false, headers: { Connection: 'close' } }, (res) => {
      res.resume();
      res.on('end', () => resolve([res.statusCode === 200 || res.statusCode === 401 ? performance.now() - t : -1, connected]));
    });
    req.on('socket', (socket) => socket.once('connect', () => (connected = performance.now() - t)));
    req.setTimeout(30_000, () => req.destroy());
    req.on('error', () => resolve([-1, connected]));
    req.end();
  });
}

/**
 * Pushers and the probe run in their own processes: a busy bench loop must not delay what it measures.
 * Each child loads (tsx, modules: a second of CPU on these 2 cores), says "ready" and waits for "go" on
 * stdin, so the load starts at once on every side and the onset figure is the server's, not the bench's
 * own start-up competing for the cores.
 */
interface Child<T> {
  ready: Promise<void>;
  go(): void;
  result: Promise<T>;
}

function child<T>(args: string[]): Child<T> {
  const p = spawn(process.execPath, ['--import', 'tsx', SELF, ...args], { stdio: ['pipe', 'pipe', 'inherit'] });
  let out = '';
  let signalReady: () => void = () => undefined;
  const ready = new Promise<void>((resolve) => (signalReady = resolve));
  p.stdout.on('data', (b: Buffer) => {
    out += b.toString();
    if (out.startsWith('ready\n')) signalReady();
  });
  const result = new Promise<T>((resolve, reject) => {
    p.on('error', reject);
    p.on('exit', (code) => (code === 0 ? resolve(JSON.parse(out.replace(/^ready\n/, '')) as T) : reject(new Error(`bench child ${args[0]} exited ${code}`))));
  });
  return { ready, result, go: () => p.stdin.end('go\n') };
}

/** In a child: announce readiness, then wait for the parent's "go". */
async function readyThenGo(): Promise<void> {
  process.stdout.write('ready\n');
  await new Promise<void>((resolve) => process.stdin.once('data', () => resolve()));
}

async function pushLoop(base: string, first: number, count: number, path: string, digest: string): Promise<{ pushes: number; failures: number }> {
  const deadline = performance.now() + SECONDS * 1000;
  let pushes = 0;
  let failures = 0;
  await Promise.all(
    Array.from({ length: count }, async (_v, i) => {
      while (performance.now() < deadline) {
        try {
          await pushBlobFile(base, `bench/mixed-push${first + i}`, path, PUSH_BYTES, digest);
          pushes++;
        } catch {
          failures++;
        }
      }
    }),
  );
  return { pushes, failures };
}

/** Probes until the deadline; each entry is [total ms, connect ms, start (ms since load onset)]. */
async function probeLoop(base: string): Promise<Array<[number, number, number]>> {
  const start = performance.now();
  const deadline = start + SECONDS * 1000;
  const timed = async (): Promise<[number, number, number]> => {
    const at = performance.now() - start;
    return [...(await probe(base)), at];
  };
  const probes = [await timed()]; // at load onset
  while (performance.now() < deadline) {
    await new Promise((r) => setTimeout(r, PROBE_MS));
    probes.push(await timed());
  }
  return probes;
}

async function run(server: BenchServer, blob: { path: string; digest: string }): Promise<Result> {
  const base = server.url;
  await pushImage(base, 'bench/mixed', '1', { seed: 'mixed' });
  const half = Math.ceil(PUSHERS / 2);
  const pushers = [child<{ pushes: number; failures: number }>(['push', base, '0', String(half), blob.path, blob.digest])];
  if (PUSHERS > half) pushers.push(child(['push', base, String(half), String(PUSHERS - half), blob.path, blob.digest]));
  const prober = child<Array<[number, number, number]>>(['probe', base]);
  const children = [...pushers, prober];
  await Promise.all(children.map((c) => c.ready));
  const { result, hwm } = await withRssSampling(server.pid, async () => {
    const load = manifestLoad(`${base}/v2/bench/mixed/manifests/1`, OCI_MANIFEST, SECONDS, CONNECTIONS);
    for (const c of children) c.go();
    const [manifest, rawProbes, ...pushed] = await Promise.all([load, prober.result, ...pushers.map((c) => c.result)]);
    // A failed probe (-1 from the child) counts as infinitely slow.
    const timed = rawProbes.map(([total, connect, at]) => ({ total: total < 0 ? Infinity : total, connect: connect < 0 ? Infinity : connect, at }));
    const probes = timed.map((p) => p.total);
    const connects = timed.map((p) => p.connect);
    const slowest = [...timed].sort((a, b) => b.total - a.total).slice(0, 3);
    console.log(`  [${server.label}] slowest probes: ${slowest.map((p) => `${Number.isFinite(p.total) ? `${p.total.toFixed(0)} ms` : 'failed'} (connect ${p.connect.toFixed(1)} ms) at ${(p.at / 1000).toFixed(1)} s`).join(', ')}`);
    return { manifest, probes, connects, pushes: pushed.reduce((n, p) => n + p.pushes, 0), pushFailures: pushed.reduce((n, p) => n + p.failures, 0) };
  });
  const { manifest, probes, connects, pushes, pushFailures } = result;
  const firstProbe = probes[0] ?? NaN;
  // Pushes started before the deadline run to their end; throughput counts the bytes of finished ones over the whole window.
  const elapsed = SECONDS;
  return {
    manifestRps: manifest.perSecond,
    manifestErrors: manifest.errors,
    pushes,
    pushFailures,
    pushMBps: (pushes * PUSH_BYTES) / 1e6 / elapsed,
    probes,
    connects,
    firstProbe,
    peakRss: Math.max(hwm, await peakRss(server.pid)),
  };
}

async function main(): Promise<void> {
  const work = await tmpDir('bench-mixed-');
  const servers: BenchServer[] = [];
  try {
    console.log(
      `# mixed load: ${CONNECTIONS} connections of manifest GETs + ${PUSHERS} clients pushing ${PUSH_BYTES / MiB} MiB blobs, ${SECONDS} s per server ` +
        `(${cpus().length} cores, load ${loadavg()[0]!.toFixed(2)}; our workers: ${process.env.BENCH_WORKERS ?? '1'})`,
    );
    const path = join(work, 'push.bin');
    const hasher = new DigestingStream('sha256');
    await pipeline(seededBytes(`mixed-${Date.now()}`, PUSH_BYTES), hasher, createWriteStream(path));
    const blob = { path, digest: hasher.digest() };
    const results: Array<[string, Result]> = [];
    for (const start of [startOurs, startPeer]) {
      const server = await start();
      servers.push(server);
      results.push([server.label, await run(server, blob)]);
      await server.close();
      servers.pop();
    }
    const ms = (v: number) => (Number.isFinite(v) ? v.toFixed(1) : 'failed');
    console.log(`\n${'server'.padEnd(6)} ${'push MB/s'.padStart(10)} ${'pushes'.padStart(7)} ${'failed'.padStart(7)} ${'/v2/ p50'.padStart(9)} ${'p99'.padStart(8)} ${'max'.padStart(8)} ${'first'.padStart(8)} ${'connect max'.padStart(12)} ${'manifest/s'.padStart(11)} ${'errors'.padStart(7)} ${'peak RSS'.padStart(9)}`);
    for (const [label, r] of results) {
      console.log(
        `${label.padEnd(6)} ${r.pushMBps.toFixed(0).padStart(10)} ${String(r.pushes).padStart(7)} ${String(r.pushFailures).padStart(7)} ${ms(percentile(r.probes, 50)).padStart(9)} ${ms(percentile(r.probes, 99)).padStart(8)} ` +
          `${ms(Math.max(...r.probes)).padStart(8)} ${ms(r.firstProbe).padStart(8)} ${ms(Math.max(...r.connects)).padStart(12)} ${r.manifestRps.toFixed(0).padStart(11)} ${String(r.manifestErrors).padStart(7)} ${`${(r.peakRss / 1e6).toFixed(0)} MB`.padStart(9)}`,
      );
    }
    const [ours, peer] = [results[0]![1], results[1]![1]];
    console.log(`\npush throughput ours ÷ peer: ${(ours.pushMBps / peer.pushMBps).toFixed(2)}; /v2/ p99 ours ${ms(percentile(ours.probes, 99))} ms (goal < 100 ms), peer ${ms(percentile(peer.probes, 99))} ms`);
    console.log(`probes: ${ours.probes.length} ours, ${peer.probes.length} peer (GET /v2/ on a fresh connection every ${PROBE_MS} ms); "errors" are non-2xx answers and socket errors of the manifest load`);
  } finally {
    for (const s of servers) await s.close().catch(() => undefined);
    await rm(work, { recursive: true, force: true });
  }
}

const SELF = fileURLToPath(import.meta.url);
const [role, ...rest] = process.argv.slice(2);
if (role === 'push') {
  const [base, first, count, path, digest] = rest as [string, string, string, string, string];
  await readyThenGo();
  process.stdout.write(JSON.stringify(await pushLoop(base, Number(first), Number(count), path, digest)));
} else if (role === 'probe') {
  await readyThenGo();
  process.stdout.write(JSON.stringify(await probeLoop(rest[0]!)));
} else {
  await main();
}
