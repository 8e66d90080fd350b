/**
 * One machine, every core: `server.workers` 1 and N (default: one per core) against Debian's
 * docker-registry 2.8, in one run:
 *
 *   node --import tsx bench/workers.ts      (BENCH_WORKERS_N=<cores>, BENCH_MIXED_SECONDS=20)
 *
 * - manifest GET req/s: wrk, 200 connections, median of 3 runs of 5 s;
 * - the mixed load: 200 connections of manifest GETs (wrk) while 20 clients push 50 MB blobs (monolithic
 *   POST + PUT, each client its own blob, pushed again and again) for BENCH_MIXED_SECONDS: pushes done,
 *   median push time, and the manifest GET rate under that load.
 * Ours runs from the sources (tsx) as a child process with a config file, as `npm start` would.
 */
import { createHash, randomBytes } from 'node:crypto';
import { availableParallelism } from 'node:os';
import { mkdir, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { freePort, startDistribution } from '../test/helpers/distribution.js';
import { makeImage, pushPreparedImage } from '../test/helpers/push-image.js';
import { OCI_MANIFEST } from '../test/helpers/push.js';
import { tmpDir } from '../test/helpers/registry.js';
import { ReplicaProcess } from '../test/helpers/replicas.js';
import { manifestLoad, pushBlobFile } from './http-load.js';

const N = Number(process.env.BENCH_WORKERS_N ?? availableParallelism());
const MIXED_SECONDS = Number(process.env.BENCH_MIXED_SECONDS ?? 20);
const PUSHERS = 20;
const BLOB = 50 * 1024 * 1024;

const median = (xs: number[]) => (xs.length === 0 ? NaN : [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!);

interface Blob {
  file: string;
  digest: string;
}

async function makeBlobs(dir: string): Promise<Blob[]> {
  const out: Blob[] = [];
  for (let i = 0; i < PUSHERS; i++) {
    const data = randomBytes(BLOB);
    const file = join(dir, `blob-${i}`);
    await writeFile(file, data);
    out.push({ file, digest: `sha256:${createHash('sha256').update(data).digest('hex')}` });
  }
  return out;
}

async function measure(label: string, base: string, blobs: readonly Blob[]): Promise<void> {
  const image = makeImage('bench/app', 'latest', [1024]);
  await pushPreparedImage(base, image);
  const url = `${base}/v2/bench/app/manifests/latest`;
  await manifestLoad(url, OCI_MANIFEST, 1, 200);
  const runs: number[] = [];
  for (let i = 0; i < 3; i++) runs.push((await manifestLoad(url, OCI_MANIFEST, 5, 200)).perSecond);
  const deadline = Date.now() + MIXED_SECONDS * 1000;
  const pushTimes: number[] = [];
  let failed = 0;
  const pusher = async (b: Blob, i: number) => {
    while (Date.now() < deadline) {
      const t = performance.now();
      try {
        await pushBlobFile(base, `bench/push${i}`, b.file, BLOB, b.digest);
        pushTimes.push((performance.now() - t) / 1000);
      } catch {
        failed++;
      }
    }
  };
  const [load] = await Promise.all([manifestLoad(url, OCI_MANIFEST, MIXED_SECONDS, 200), ...blobs.map(pusher)]);
  console.log(
    `${label}: manifest GET ${median(runs).toFixed(0)}/s (runs ${runs.map((r) => r.toFixed(0)).join(', ')}); ` +
      `mixed ${MIXED_SECONDS} s: ${pushTimes.length} pushes of 50 MB done (${failed} failed), median ${median(pushTimes).toFixed(1)} s, ` +
      `manifest GET ${load.perSecond.toFixed(0)}/s under load`,
  );
}

async function ours(workers: number, blobs: readonly Blob[]): Promise<void> {
  const dir = await tmpDir('bench-workers-');
  const port = await freePort();
  await mkdir(join(dir, 'data'));
  const config = { server: { host: '127.0.0.1', port, workers }, storage: { dataDir: join(dir, 'data') }, log: { level: 'warn' } };
  await writeFile(join(dir, 'config.yaml'), JSON.stringify(config));
  const reg = new ReplicaProcess(`127.0.0.1:${port}`, join(dir, 'config.yaml'), {});
  await reg.start();
  try {
    await measure(`ours, workers: ${workers}`, reg.url, blobs);
  } finally {
    await reg.stop();
    await rm(dir, { recursive: true, force: true });
  }
}

async function main(): Promise<void> {
  const work = await tmpDir('bench-workers-blobs-');
  try {
    const blobs = await makeBlobs(work);
    const peer = await startDistribution();
    try {
      await measure('peer (docker-registry 2.8)', peer.url, blobs);
    } finally {
      await peer.close();
    }
    await ours(1, blobs);
    await ours(N, blobs);
  } finally {
    await rm(work, { recursive: true, force: true });
  }
}

main().catch((err: unknown) => {
  console.error(err);
  process.exit(1);
});
