/**
 * Pull-through cache benchmark (not part of `npm test`): `npm run bench:mirror`.
 *
 * Upstream: Debian's docker-registry (CNCF Distribution 2.8) on loopback. Our registry runs as a separate
 * child process (`node --import tsx src/main.ts`) so its peak RSS can be read from /proc (VmHWM).
 *   1. cold pull through the mirror vs a direct pull from the same upstream (fresh cache each run)
 *   2. warm pull from the cache vs the upstream
 *   3. 8 clients pulling one cold 1 GiB blob at once: time, upstream fetches, server peak RSS
 * Sizes can be shrunk for a quick run: BENCH_IMAGE_MIB (default 256), BENCH_BIG_MIB (default 1024).
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { createHash } from 'node:crypto';
import { createReadStream, createWriteStream } from 'node:fs';
import { readFile, rm, stat, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { freePort, startDistribution, type RunningDistribution } from '../test/helpers/distribution.js';
import { OciLayout, seededBytes } from '../test/helpers/oci-layout.js';
import { tmpDir } from '../test/helpers/registry.js';

const MIB = 1024 * 1024;
const IMAGE_MIB = Number(process.env.BENCH_IMAGE_MIB ?? 256);
const BIG_MIB = Number(process.env.BENCH_BIG_MIB ?? 1024);
const RUNS = 3;
const CLIENTS = 8;
const ACCEPT = 'application/vnd.oci.image.manifest.v1+json, application/vnd.oci.image.index.v1+json';

interface Server {
  url: string;
  pid: number;
  dataDir: string;
  stop(): Promise<void>;
}

async function main(): Promise<void> {
  const work = await tmpDir('bench-mirror-');
  const upstream = await startDistribution({ dataDir: join(work, 'upstream') });
  try {
    console.log(`# pull-through cache benchmark (node ${process.version}; upstream: docker-registry 2.8 on loopback)`);
    const layout = await OciLayout.create(join(work, 'layout'));
    const layers = 4;
    const image = await layout.addImage({ layerSizes: Array.from({ length: layers }, () => (IMAGE_MIB / layers) * MIB), seed: 'bench-mirror' });
    await pushLayout(upstream, layout, 'bench/app', 'v1', [image.config.digest, ...image.layers.map((l) => l.digest)], image.manifest.digest);
    const imageBytes = image.layers.reduce((n, l) => n + l.size, image.config.size);
    console.log(`image: ${layers} layers, ${(imageBytes / MIB).toFixed(0)} MiB in blobs`);

    const direct: number[] = [];
    const cold: number[] = [];
    const warm: number[] = [];
    for (let i = 0; i < RUNS; i++) {
      direct.push(await timed(() => pull(upstream.url, 'bench/app', 'v1')));
      const server = await startServer(work, upstream.url, `cold${i}`);
      try {
        cold.push(await timed(() => pull(server.url, 'bench/app', 'v1')));
        warm.push(await timed(() => pull(server.url, 'bench/app', 'v1')));
        warm.push(await timed(() => pull(server.url, 'bench/app', 'v1')));
      } finally {
        await server.stop();
      }
    }
    report('direct pull from upstream', direct, imageBytes);
    report('cold pull through mirror', cold, imageBytes);
    report('warm pull from mirror cache', warm, imageBytes);
    console.log(`ratio cold-through-mirror / direct: ${(median(cold) / median(direct)).toFixed(2)}x time`);
    console.log(`ratio warm-from-cache / direct:     ${(median(warm) / median(direct)).toFixed(2)}x time`);

    // One cold 1 GiB blob, 8 concurrent clients.
    const bigPath = join(work, 'big.bin');
    const bigDigest = await writeSeeded(bigPath, BIG_MIB * MIB);
    await pushBlob(upstream.url, 'bench/big', bigPath, bigDigest);
    const server = await startServer(work, upstream.url, 'big');
    try {
      const idle = await rss(server.pid);
      const started = performance.now();
      const results = await Promise.all(Array.from({ length: CLIENTS }, (_, i) => download(`${server.url}/v2/bench/big/blobs/${bigDigest}`, i === 0)));
      const seconds = (performance.now() - started) / 1000;
      const peak = await rss(server.pid);
      // The fill is observed once committed (fsync + rename), a moment after clients got the last byte.
      let fetches = await upstreamBlobFetches(server.url);
      for (let i = 0; fetches === undefined && i < 300; i++) {
        await new Promise((r) => setTimeout(r, 100));
        fetches = await upstreamBlobFetches(server.url);
      }
      const ok = results.every((r) => r.bytes === BIG_MIB * MIB) && results[0]!.digest === bigDigest;
      console.log(
        `${CLIENTS} clients × cold ${BIG_MIB} MiB blob: ${seconds.toFixed(2)} s, ${((CLIENTS * BIG_MIB) / seconds).toFixed(0)} MiB/s delivered in total, ` +
          `all complete and verified: ${ok}, upstream blob fetches: ${fetches ?? 'n/a'}`,
      );
      console.log(`server RSS: idle ${(idle.rss / MIB).toFixed(0)} MiB, peak (VmHWM) during the cold fill ${(peak.hwm / MIB).toFixed(0)} MiB`);
      // The same 8 clients again, now from the cache: what the cold run costs over plain serving.
      await new Promise((r) => setTimeout(r, 500));
      const warmStart = performance.now();
      await Promise.all(Array.from({ length: CLIENTS }, () => download(`${server.url}/v2/bench/big/blobs/${bigDigest}`, false)));
      const warmSeconds = (performance.now() - warmStart) / 1000;
      console.log(`${CLIENTS} clients × warm ${BIG_MIB} MiB blob: ${warmSeconds.toFixed(2)} s, ${((CLIENTS * BIG_MIB) / warmSeconds).toFixed(0)} MiB/s delivered in total`);
      const direct = performance.now();
      await Promise.all(Array.from({ length: CLIENTS }, () => download(`${upstream.url}/v2/bench/big/blobs/${bigDigest}`, false)));
      const directSeconds = (performance.now() - direct) / 1000;
      console.log(`${CLIENTS} clients × direct from upstream: ${directSeconds.toFixed(2)} s, ${((CLIENTS * BIG_MIB) / directSeconds).toFixed(0)} MiB/s delivered in total`);
    } finally {
      await server.stop();
    }
  } finally {
    await upstream.close();
    await rm(work, { recursive: true, force: true });
  }
}

/** Pulls like a client: manifest, then every blob, verifying each digest as skopeo/podman/containerd do. */
async function pull(base: string, name: string, ref: string): Promise<void> {
  const res = await fetch(`${base}/v2/${name}/manifests/${ref}`, { headers: { accept: ACCEPT } });
  if (res.status !== 200) throw new Error(`manifest: ${res.status} ${await res.text()}`);
  const m = (await res.json()) as { config: { digest: string; size: number }; layers: Array<{ digest: string; size: number }> };
  for (const d of [m.config, ...m.layers]) {
    const r = await download(`${base}/v2/${name}/blobs/${d.digest}`, true);
    if (r.bytes !== d.size || r.digest !== d.digest) throw new Error(`blob ${d.digest}: ${r.bytes} of ${d.size} bytes, digest ${r.digest}`);
  }
}

async function download(url: string, verify: boolean): Promise<{ bytes: number; digest?: string }> {
  const res = await fetch(url);
  if (res.status !== 200 || !res.body) throw new Error(`${url}: ${res.status}`);
  const hash = verify ? createHash('sha256') : undefined;
  let bytes = 0;
  for await (const chunk of res.body as AsyncIterable<Uint8Array>) {
    bytes += chunk.length;
    hash?.update(chunk);
  }
  return hash ? { bytes, digest: `sha256:${hash.digest('hex')}` } : { bytes };
}

async function startServer(work: string, upstreamUrl: string, label: string): Promise<Server> {
  const port = await freePort();
  const dataDir = join(work, `mirror-${label}`);
  const configPath = join(work, `mirror-${label}.yaml`);
  await writeFile(
    configPath,
    [
      'server:', '  host: 127.0.0.1', `  port: ${port}`,
      'storage:', `  dataDir: ${JSON.stringify(dataDir)}`,
      'log:', '  level: warn',
      'upstreams:', '  - name: bench', `    url: ${upstreamUrl}`, '    prefix: bench.local/', '    default: true', '',
    ].join('\n'),
  );
  const child: ChildProcess = spawn(process.execPath, ['--import', 'tsx', 'src/main.ts', '--config', configPath], { stdio: ['ignore', 'pipe', 'pipe'] });
  let out = '';
  child.stdout?.on('data', (b: Buffer) => (out += b.toString()));
  child.stderr?.on('data', (b: Buffer) => (out += b.toString()));
  const url = `http://127.0.0.1:${port}`;
  const deadline = Date.now() + 20_000;
  for (;;) {
    if (child.exitCode !== null) throw new Error(`server exited: ${out}`);
    const up = await fetch(`${url}/v2/`).then((r) => r.status, () => 0);
    if (up === 200 || up === 401) break;
    if (Date.now() > deadline) throw new Error(`server did not start: ${out}`);
    await new Promise((r) => setTimeout(r, 50));
  }
  return {
    url,
    pid: child.pid!,
    dataDir,
    async stop() {
      const exited = new Promise((resolve) => child.once('exit', resolve));
      child.kill('SIGTERM');
      await exited;
      await rm(dataDir, { recursive: true, force: true });
    },
  };
}

/** registry_upstream_requests_total from the server's /metrics, if the metrics endpoint is mounted. */
async function upstreamBlobFetches(base: string): Promise<string | undefined> {
  const res = await fetch(`${base}/metrics`).catch((err: Error) => err);
  if (res instanceof Error) return `n/a (${res.message})`;
  if (res.status !== 200) return `n/a (/metrics answered ${res.status})`;
  const text = await res.text();
  // One observation per blob fill (the histogram's _count), not per client.
  const line = text.split('\n').find((l) => /^registry_upstream_fetch_duration_seconds_count\{.*kind="blob"/.test(l));
  return line?.split(' ').pop();
}

async function rss(pid: number): Promise<{ rss: number; hwm: number }> {
  const status = await readFile(`/proc/${pid}/status`, 'utf8');
  const kb = (key: string) => Number(new RegExp(`${key}:\\s+(\\d+)`).exec(status)?.[1] ?? 0) * 1024;
  return { rss: kb('VmRSS'), hwm: kb('VmHWM') };
}

async function writeSeeded(path: string, size: number): Promise<string> {
  const hash = createHash('sha256');
  await pipeline(
    seededBytes('bench-big', size),
    async function* (source: AsyncIterable<Buffer>) {
      for await (const chunk of source) {
        hash.update(chunk);
        yield chunk;
      }
    },
    createWriteStream(path),
  );
  return `sha256:${hash.digest('hex')}`;
}

async function pushLayout(up: RunningDistribution, layout: OciLayout, repo: string, tag: string, blobs: string[], manifest: string): Promise<void> {
  for (const d of blobs) await pushBlob(up.url, repo, layout.blobPath(d), d);
  const body = await readFile(layout.blobPath(manifest));
  const res = await fetch(`${up.url}/v2/${repo}/manifests/${tag}`, { method: 'PUT', headers: { 'content-type': 'application/vnd.oci.image.manifest.v1+json' }, body: new Uint8Array(body) });
  if (res.status !== 201) throw new Error(`manifest push: ${res.status} ${await res.text()}`);
}

async function pushBlob(base: string, repo: string, path: string, digest: string): Promise<void> {
  const start = await fetch(`${base}/v2/${repo}/blobs/uploads/`, { method: 'POST' });
  if (start.status !== 202) throw new Error(`upload start: ${start.status}`);
  const location = new URL(start.headers.get('location')!, base);
  location.searchParams.set('digest', digest);
  const size = (await stat(path)).size;
  const body = Readable.toWeb(createReadStream(path, { highWaterMark: MIB })) as ReadableStream<Uint8Array>;
  const put = await fetch(location, { method: 'PUT', headers: { 'content-length': String(size), 'content-type': 'application/octet-stream' }, body, duplex: 'half' } as RequestInit);
  if (put.status !== 201) throw new Error(`upload: ${put.status} ${await put.text()}`);
}

async function timed(work: () => Promise<void>): Promise<number> {
  const started = performance.now();
  await work();
  return (performance.now() - started) / 1000;
}

function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.floor(s.length / 2)]!;
}

function report(label: string, seconds: number[], bytes: number): void {
  const m = median(seconds);
  console.log(`${label.padEnd(30)} median ${m.toFixed(3)} s (${(bytes / MIB / m).toFixed(0)} MiB/s) runs: ${seconds.map((s) => s.toFixed(3)).join(', ')}`);
}

main().catch((err: unknown) => {
  console.error(err);
  process.exitCode = 1;
});
