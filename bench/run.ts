import { createWriteStream } from 'node:fs';
import { mkdir, rm } from 'node:fs/promises';
import { join } from 'node:path';
import { pipeline } from 'node:stream/promises';
import { Skopeo } from '../test/helpers/clients.js';
import { HashingPassThrough, OCI_MANIFEST, OciLayout, seededBytes } from '../test/helpers/oci-layout.js';
import { tmpDir } from '../test/helpers/registry.js';
import { getBlob, manifestLoad, pushBlobFile } from './http-load.js';
import { startOurs, startPeer, withRssSampling, peakRss, type BenchServer } from './servers.js';

/**
 * Peer comparison: the same workload against our built server and Debian's docker-registry (Distribution 2.8)
 * in one run; each figure and the ratio ours/peer. See bench/README.md.
 */

const MiB = 1024 * 1024;
const env = (name: string, fallback: number) => Number(process.env[name] ?? fallback);
const LOAD_SECONDS = env('BENCH_LOAD_SECONDS', 8);
const LOAD_CONNECTIONS = env('BENCH_CONNECTIONS', 32);
const BIG_BLOB = env('BENCH_BIG_MIB', 200) * MiB;
const HUGE_BLOB = env('BENCH_HUGE_MIB', 2048) * MiB;
const PULL_ROUNDS = env('BENCH_PULL_ROUNDS', 3);
const RSS_LIMIT = 200 * 1000 * 1000;

interface BlobFile {
  path: string;
  size: number;
  digest: string;
}

interface Figures {
  pushSeconds: number;
  pullSeconds: number;
  manifestRps: number;
  manifestErrors: number;
  loadTool: string;
  bigPushSeconds: number;
  blobMBps: number;
  hugePushSeconds: number;
  hugePullSeconds: number;
  hugePeakRss: number;
  hugeSampledRss: number;
  overallPeakRss: number;
}

async function writeBlobFile(path: string, seed: string, size: number): Promise<BlobFile> {
  const hasher = new HashingPassThrough('sha256');
  await pipeline(seededBytes(seed, size), hasher, createWriteStream(path));
  return { path, size, digest: `sha256:${hasher.hex()}` };
}

const seconds = async (work: () => Promise<unknown>): Promise<number> => {
  const t = performance.now();
  await work();
  return (performance.now() - t) / 1000;
};

const median = (xs: number[]): number => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;

async function measure(server: BenchServer, work: string, layout: OciLayout, skopeo: Skopeo, big: BlobFile, huge: BlobFile): Promise<Figures> {
  const log = (msg: string) => console.log(`  [${server.label}] ${msg}`);
  const dest = (ref: string) => `docker://${server.host}/${ref}`;

  // Push: one single-arch image (3 layers, ~81 MiB) and one 2-platform index, as skopeo uploads them (POST, PATCH, PUT).
  const pushSeconds = await seconds(async () => {
    await skopeo.run(['copy', '--dest-tls-verify=false', layout.reference('app'), dest('bench/app:1')]);
    await skopeo.run(['copy', '--all', '--dest-tls-verify=false', layout.reference('multi'), dest('bench/multi:1')]);
  });
  log(`push images ${pushSeconds.toFixed(2)} s`);

  const pulls: number[] = [];
  for (let i = 0; i < PULL_ROUNDS; i++) {
    const out = join(work, `pull-${server.label}-${i}`);
    pulls.push(
      await seconds(async () => {
        await skopeo.run(['copy', '--src-tls-verify=false', dest('bench/app:1'), `oci:${out}:app`]);
        await skopeo.run(['copy', '--all', '--src-tls-verify=false', dest('bench/multi:1'), `oci:${out}:multi`]);
      }),
    );
    await rm(out, { recursive: true, force: true });
  }
  const pullSeconds = median(pulls);
  log(`pull images (median of ${PULL_ROUNDS}) ${pullSeconds.toFixed(2)} s`);

  const manifestUrl = `${server.url}/v2/bench/app/manifests/1`;
  await manifestLoad(manifestUrl, OCI_MANIFEST, 1, LOAD_CONNECTIONS); // warm-up: caches, JIT, connections
  const load = await manifestLoad(manifestUrl, OCI_MANIFEST, LOAD_SECONDS, LOAD_CONNECTIONS);
  log(`manifest GET ${load.perSecond.toFixed(0)} req/s (${load.requests} in ${load.seconds.toFixed(1)} s, ${load.errors} errors, ${load.tool})`);

  const bigPushSeconds = await seconds(() => pushBlobFile(server.url, 'bench/big', big.path, big.size, big.digest));
  await getBlob(server.url, 'bench/big', big.digest); // warm-up
  const rounds = 3;
  const readSeconds = await seconds(async () => {
    for (let i = 0; i < rounds; i++) {
      const n = await getBlob(server.url, 'bench/big', big.digest);
      if (n !== big.size) throw new Error(`short blob read: ${n} of ${big.size}`);
    }
  });
  const blobMBps = (rounds * big.size) / 1e6 / readSeconds;
  log(`blob push ${(big.size / MiB).toFixed(0)} MiB ${bigPushSeconds.toFixed(2)} s; blob GET ${blobMBps.toFixed(0)} MB/s`);

  const overallBefore = await peakRss(server.pid);
  let hugePushSeconds = 0;
  let hugePullSeconds = 0;
  const sampled = await withRssSampling(server.pid, async () => {
    hugePushSeconds = await seconds(() => pushBlobFile(server.url, 'bench/huge', huge.path, huge.size, huge.digest));
    hugePullSeconds = await seconds(async () => {
      const n = await getBlob(server.url, 'bench/huge', huge.digest);
      if (n !== huge.size) throw new Error(`short blob read: ${n} of ${huge.size}`);
    });
  });
  log(`${(huge.size / MiB).toFixed(0)} MiB blob: push ${hugePushSeconds.toFixed(2)} s, pull ${hugePullSeconds.toFixed(2)} s, peak RSS ${mb(sampled.hwm)}`);

  return {
    pushSeconds,
    pullSeconds,
    manifestRps: load.perSecond,
    manifestErrors: load.errors,
    loadTool: load.tool,
    bigPushSeconds,
    blobMBps,
    hugePushSeconds,
    hugePullSeconds,
    hugePeakRss: sampled.hwm,
    hugeSampledRss: sampled.maxSampled,
    overallPeakRss: Math.max(overallBefore, sampled.hwm),
  };
}

const mb = (bytes: number) => `${(bytes / 1e6).toFixed(1)} MB`;

function report(ours: Figures, peer: Figures, hugeSize: number, bigSize: number): boolean {
  const rows: Array<[string, number, number, (v: number) => string, string]> = [
    ['push images (skopeo), s', ours.pushSeconds, peer.pushSeconds, (v) => v.toFixed(2), 'lower is better'],
    ['pull images (skopeo), s', ours.pullSeconds, peer.pullSeconds, (v) => v.toFixed(2), 'lower is better'],
    ['manifest GET, req/s', ours.manifestRps, peer.manifestRps, (v) => v.toFixed(0), 'higher is better'],
    [`blob GET ${(bigSize / MiB).toFixed(0)} MiB, MB/s`, ours.blobMBps, peer.blobMBps, (v) => v.toFixed(0), 'higher is better'],
    [`blob push ${(bigSize / MiB).toFixed(0)} MiB, s`, ours.bigPushSeconds, peer.bigPushSeconds, (v) => v.toFixed(2), 'lower is better'],
    [`blob push ${(hugeSize / MiB).toFixed(0)} MiB, s`, ours.hugePushSeconds, peer.hugePushSeconds, (v) => v.toFixed(2), 'lower is better'],
    [`blob pull ${(hugeSize / MiB).toFixed(0)} MiB, s`, ours.hugePullSeconds, peer.hugePullSeconds, (v) => v.toFixed(2), 'lower is better'],
    ['peak RSS during big push+pull, MB', ours.hugePeakRss / 1e6, peer.hugePeakRss / 1e6, (v) => v.toFixed(1), 'lower is better'],
    ['peak RSS whole run, MB', ours.overallPeakRss / 1e6, peer.overallPeakRss / 1e6, (v) => v.toFixed(1), 'lower is better'],
  ];
  const w = [36, 10, 10, 12];
  const line = (cells: string[]) => cells.map((c, i) => (i === 0 ? c.padEnd(w[0]!) : c.padStart(w[i] ?? 10))).join(' ');
  console.log('\n' + line(['metric', 'ours', 'peer', 'ours/peer']) + '  note');
  for (const [name, a, b, fmt, note] of rows) console.log(line([name, fmt(a), fmt(b), (a / b).toFixed(2)]) + `  ${note}`);
  console.log(`load generator: ${ours.loadTool}; manifest GET errors: ours ${ours.manifestErrors}, peer ${peer.manifestErrors}`);
  const pass = ours.hugePeakRss < RSS_LIMIT;
  console.log(
    `${pass ? 'PASS' : 'FAIL'}: our peak RSS while pushing and pulling a ${(hugeSize / MiB / 1024).toFixed(1)} GiB blob was ` +
      `${mb(ours.hugePeakRss)} (VmHWM; sampled max ${mb(ours.hugeSampledRss)}); limit ${mb(RSS_LIMIT)}`,
  );
  return pass;
}

async function main(): Promise<void> {
  const started = performance.now();
  const work = await tmpDir('bench-');
  const servers: BenchServer[] = [];
  const skopeo = await Skopeo.create();
  try {
    console.log(`bench: preparing images and blobs in ${work}`);
    const layout = await OciLayout.create(join(work, 'layout'));
    await layout.addImage({ layerSizes: [1 * MiB, 16 * MiB, 64 * MiB], seed: 'bench-app' }, 'app');
    await layout.addIndex({ layerSizes: [2 * MiB, 8 * MiB], seed: 'bench-multi' }, 'multi');
    await layout.finish();
    await mkdir(join(work, 'blobs'));
    const big = await writeBlobFile(join(work, 'blobs', 'big'), 'bench-big', BIG_BLOB);
    const huge = await writeBlobFile(join(work, 'blobs', 'huge'), 'bench-huge', HUGE_BLOB);

    const ours = await startOurs();
    servers.push(ours);
    const peer = await startPeer();
    servers.push(peer);
    console.log(`bench: ours (dist/main.js, pid ${ours.pid}) at ${ours.url}; peer (docker-registry, pid ${peer.pid}) at ${peer.url}`);

    const figures: Figures[] = [];
    for (const server of [ours, peer]) figures.push(await measure(server, work, layout, skopeo, big, huge));
    const pass = report(figures[0]!, figures[1]!, huge.size, big.size);
    console.log(`bench: finished in ${((performance.now() - started) / 1000).toFixed(0)} s`);
    process.exitCode = pass ? 0 : 1;
  } finally {
    for (const s of servers) await s.close().catch(() => undefined);
    await skopeo.close();
    await rm(work, { recursive: true, force: true });
  }
}

await main();
