/**
 * Pull-through cache benchmark (not part of `npm test`): `npm run bench:mirror`.
 *
 * Upstream: Debian's docker-registry (CNCF Distribution 2.8) on loopback. Our registry (dist/main.js, one
 * process unless BENCH_WORKERS says otherwise) and the peer, docker-registry in proxy mode, both mirror it.
 *   1. cold pull through each mirror ÷ a direct pull of the same image from the upstream, with skopeo
 *      (fresh image per pair: BENCH_IMAGES images of 4 × BENCH_LAYER_MIB MiB layers); median of the ratios
 *   2. warm pull from each mirror ÷ direct pull, BENCH_WARM_ROUNDS rounds over the same images, alternating
 *      which side goes first; median of the ratios
 *   3. 8 clients pulling one cold BENCH_BIG_MIB blob at once: time, upstream fetches, server peak RSS
 */
import { createHash } from 'node:crypto';
import { createWriteStream } from 'node:fs';
import { rm } from 'node:fs/promises';
import { cpus, loadavg } from 'node:os';
import { join } from 'node:path';
import { pipeline } from 'node:stream/promises';
import { Skopeo } from '../test/helpers/clients.js';
import { startDistribution } from '../test/helpers/distribution.js';
import { OciLayout, seededBytes } from '../test/helpers/oci-layout.js';
import { tmpDir } from '../test/helpers/registry.js';
import { pushBlobFile } from './http-load.js';
import { cpuSeconds, currentRss, machineBusySeconds, peakRss, startOurs, startPeerProxy, type BenchServer } from './servers.js';

const MIB = 1024 * 1024;
const env = (name: string, fallback: number) => Number(process.env[name] ?? fallback);
const IMAGES = env('BENCH_IMAGES', 3);
const LAYERS = 4;
const LAYER_MIB = env('BENCH_LAYER_MIB', 16);
const WARM_ROUNDS = env('BENCH_WARM_ROUNDS', 2);
const BIG_MIB = env('BENCH_BIG_MIB', 256);
const CLIENTS = 8;

const median = (xs: readonly number[]): number => {
  const s = [...xs].sort((a, b) => a - b);
  return s.length % 2 ? s[(s.length - 1) / 2]! : (s[s.length / 2 - 1]! + s[s.length / 2]!) / 2;
};
const fmt = (xs: readonly number[], digits = 2) => xs.map((v) => v.toFixed(digits)).join(' ');

async function timed(work: () => Promise<unknown>): Promise<number> {
  const started = performance.now();
  await work();
  return (performance.now() - started) / 1000;
}

async function main(): Promise<void> {
  const busyAtStart = loadavg()[0]! > cpus().length;
  const work = await tmpDir('bench-mirror-');
  const upstream = await startDistribution({ dataDir: join(work, 'upstream'), logLevel: 'error' });
  const skopeo = await Skopeo.create();
  const servers: BenchServer[] = [];
  try {
    console.log(`# pull-through cache benchmark (node ${process.version}, ${cpus().length} cores, load ${loadavg()[0]!.toFixed(2)}; upstream docker-registry 2.8 on loopback)`);
    const layout = await OciLayout.create(join(work, 'layout'));
    const names: string[] = [];
    for (let i = 0; i < IMAGES; i++) {
      await layout.addImage({ layerSizes: Array.from({ length: LAYERS }, () => LAYER_MIB * MIB), seed: `bench-mirror-${i}-${Date.now()}` }, `img${i}`);
      names.push(`bench/app${i}`);
    }
    await layout.finish();
    for (let i = 0; i < IMAGES; i++) {
      await skopeo.run(['copy', '--dest-tls-verify=false', layout.reference(`img${i}`), `docker://${upstream.host}/${names[i]}:v1`]);
    }
    console.log(`images: ${IMAGES} × ${LAYERS} layers of ${LAYER_MIB} MiB, pulled with skopeo into a fresh OCI layout each time`);

    const ours = await startOurs({ configYaml: mirrorConfig(upstream.url) });
    servers.push(ours);
    const peer = await startPeerProxy(upstream.url);
    servers.push(peer);
    const mirrors = [ours, peer];

    let pulls = 0;
    const pull = (host: string, name: string) =>
      timed(async () => {
        const out = join(work, `pull-${pulls++}`);
        await skopeo.run(['copy', '--src-tls-verify=false', `docker://${host}/${name}:v1`, `oci:${out}:x`]);
        await rm(out, { recursive: true, force: true });
      });

    // Cold: for each image, a direct pull then a cold pull through each mirror (the first to ask for it).
    // Also the CPU each pull costs: the mirror's own, and the machine's (every process, both cores), which shows
    // whether a pull is bound by the cores rather than by waiting.
    const cold = mirrors.map(() => [] as number[]);
    const coldCpu = mirrors.map(() => [] as number[]);
    const coldMachine = mirrors.map(() => [] as number[]);
    const direct: number[] = [];
    const directMachine: number[] = [];
    for (const name of names) {
      const busy = await machineBusySeconds();
      const d = await pull(upstream.host, name);
      direct.push(d);
      directMachine.push((await machineBusySeconds()) - busy);
      for (const [m, mirror] of mirrors.entries()) {
        const [own, all] = [await cpuSeconds(mirror.pid), await machineBusySeconds()];
        cold[m]!.push((await pull(mirror.host, name)) / d);
        coldCpu[m]!.push((await cpuSeconds(mirror.pid)) - own);
        coldMachine[m]!.push((await machineBusySeconds()) - all);
      }
    }
    // Warm: direct and each mirror alternate who goes first; ratios against the direct pull of the same round.
    const warm = mirrors.map(() => [] as number[]);
    for (let round = 0; round < WARM_ROUNDS; round++) {
      for (const name of names) {
        const times = new Map<string, number>();
        const order = round % 2 ? [...mirrors.map((m) => m.host), upstream.host] : [upstream.host, ...mirrors.map((m) => m.host)];
        for (const host of order) times.set(host, await pull(host, name));
        for (const [m, mirror] of mirrors.entries()) warm[m]!.push(times.get(mirror.host)! / times.get(upstream.host)!);
      }
    }
    console.log(`direct pulls (cold phase): ${fmt(direct)} s`);
    console.log(`machine CPU per direct pull: ${fmt(directMachine)} s (${cpus().length} cores)`);
    for (const [m, mirror] of mirrors.entries()) {
      console.log(`[${mirror.label}] cold ÷ direct per image: ${fmt(cold[m]!)}; warm ÷ direct per pair: ${fmt(warm[m]!)}`);
      console.log(`[${mirror.label}] CPU per cold pull: the mirror's own ${fmt(coldCpu[m]!)} s, the machine's ${fmt(coldMachine[m]!)} s`);
    }

    const big = await bigBlob(work, upstream.url, ours);
    const row = (label: string, a: number, b: number, goal: string) =>
      console.log(`${label.padEnd(46)} ${a.toFixed(2).padStart(8)} ${b.toFixed(2).padStart(8)}   ${goal}`);
    console.log(`\n${'figure (time ÷ direct pull, median of pairs)'.padEnd(46)} ${'ours'.padStart(8)} ${'peer'.padStart(8)}   goal (peer: docker-registry proxy mode)`);
    row(`cold pull through mirror ÷ direct (${cold[0]!.length} images)`, median(cold[0]!), median(cold[1]!), '≤ 1.15');
    row(`warm pull from mirror ÷ direct (${warm[0]!.length} pairs)`, median(warm[0]!), median(warm[1]!), '≤ 1.00');
    console.log(big);
    console.log(`bench: load average at end ${loadavg()[0]!.toFixed(2)}`);
    if (busyAtStart) console.log('bench: WARNING: the machine was busy with other work at start; rerun when idle for stable figures');
  } finally {
    for (const s of servers) await s.close().catch(() => undefined);
    await skopeo.close();
    await upstream.close();
    await rm(work, { recursive: true, force: true });
  }
}

function mirrorConfig(upstreamUrl: string): string {
  return ['upstreams:', '  - name: bench', `    url: ${upstreamUrl}`, '    prefix: bench.local/', '    default: true', ''].join('\n');
}

/** One cold blob, 8 concurrent clients: one upstream fetch, flat memory, and what it costs over a warm read. */
async function bigBlob(work: string, upstreamUrl: string, ours: BenchServer): Promise<string> {
  const bigPath = join(work, 'big.bin');
  const bigDigest = await writeSeeded(bigPath, BIG_MIB * MIB);
  await pushBlobFile(upstreamUrl, 'bench/big', bigPath, BIG_MIB * MIB, bigDigest);
  const url = `${ours.url}/v2/bench/big/blobs/${bigDigest}`;
  const idle = await currentRss(ours.pid);
  const before = Number(await upstreamBlobFetches(ours.url));
  const started = performance.now();
  const results = await Promise.all(Array.from({ length: CLIENTS }, (_, i) => download(url, i === 0)));
  const seconds = (performance.now() - started) / 1000;
  const peak = await peakRss(ours.pid);
  // The fill is counted once committed (fsync + rename), a moment after clients got the last byte.
  let fetches = Number(await upstreamBlobFetches(ours.url)) - before;
  for (let i = 0; !(fetches > 0) && i < 100; i++) {
    await new Promise((r) => setTimeout(r, 100));
    fetches = Number(await upstreamBlobFetches(ours.url)) - before;
  }
  const ok = results.every((r) => r.bytes === BIG_MIB * MIB) && results[0]!.digest === bigDigest;
  const warmSeconds = await timed(() => Promise.all(Array.from({ length: CLIENTS }, () => download(url, false))));
  const directSeconds = await timed(() => Promise.all(Array.from({ length: CLIENTS }, () => download(`${upstreamUrl}/v2/bench/big/blobs/${bigDigest}`, false))));
  return [
    `${CLIENTS} clients × cold ${BIG_MIB} MiB blob through ours: ${seconds.toFixed(2)} s; all complete and verified: ${ok}; upstream blob fetches for it: ${Number.isNaN(fetches) ? 'n/a (no /metrics)' : fetches}`,
    `  server RSS idle ${(idle / 1e6).toFixed(0)} MB, peak (VmHWM, whole run) ${(peak / 1e6).toFixed(0)} MB`,
    `  same clients warm from ours ${warmSeconds.toFixed(2)} s; direct from upstream ${directSeconds.toFixed(2)} s`,
  ].join('\n');
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

/** Count of upstream blob fetches (the fetch-duration histogram's _count), from the server's /metrics. */
async function upstreamBlobFetches(base: string): Promise<string | undefined> {
  const res = await fetch(`${base}/metrics`).catch((err: Error) => err);
  if (res instanceof Error) return `n/a (${res.message})`;
  if (res.status !== 200) return `n/a (/metrics answered ${res.status})`;
  const text = await res.text();
  const line = text.split('\n').find((l) => /^registry_upstream_fetch_duration_seconds_count\{.*kind="blob"/.test(l));
  return line?.split(' ').pop();
}

async function writeSeeded(path: string, size: number): Promise<string> {
  const hash = createHash('sha256');
  await pipeline(
    seededBytes(`bench-big-${Date.now()}`, size),
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

main().catch((err: unknown) => {
  console.error(err);
  process.exitCode = 1;
});
