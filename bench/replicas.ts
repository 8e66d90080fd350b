/**
 * Replicas and the Redis index, in one run:
 *
 *   node --import tsx bench/replicas.ts        (BENCH_INDEX_SIZES=5000,50000 by default)
 *
 * 1. Manifest GET req/s through haproxy with 1 and with 3 replicas (Redis index, one shared store), and
 *    Debian's docker-registry 2.8 behind the same haproxy config with one backend; wrk, 200 connections,
 *    median of 3 runs of 5 s each.
 * 2. The Redis index itself (metadata.driver redis) through HTTP on one replica, filled straight into
 *    Redis (N repositories with one image each, plus one repository with 5,000 tags): first catalog page
 *    (n=100, median of 5), the whole catalog walked in pages of 1,000 (median of 3), a tag page (n=100)
 *    and the whole tag list in pages of 1,000, and manifest GET req/s by tag.
 * 3. A cold mirror blob (64 MiB from a fake upstream on loopback) asked through two replicas at once:
 *    time to first byte and to the last byte for the client on the fill's owner and for the one on the
 *    other replica (which waits for the owner's commit, then reads the shared store), median of 3.
 * Peer catalog figures at the same sizes come from bench/catalog.ts (it fills docker-registry's own
 * layout); run it in the same session to compare.
 */
import { connectRedis } from '../src/coordination/redis-connection.js';
import { RedisMetadataIndex } from '../src/metadata/redis-metadata-index.js';
import type { Digest } from '../src/oci/digest.js';
import { startDistribution } from '../test/helpers/distribution.js';
import { startHaproxy } from '../test/helpers/haproxy.js';
import { makeImage, pushPreparedImage } from '../test/helpers/push-image.js';
import { OCI_MANIFEST } from '../test/helpers/push.js';
import { randomBytes } from 'node:crypto';
import { FakeHub } from '../test/helpers/fake-hub.js';
import { startTrio } from '../test/helpers/replicas.js';
import { manifestLoad } from './http-load.js';

const SIZES = (process.env.BENCH_INDEX_SIZES ?? '5000,50000').split(',').map(Number);
const RUNS = 3;

const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;

async function reqPerSecond(url: string): Promise<number> {
  await manifestLoad(url, OCI_MANIFEST, 1, 200); // warm-up
  const runs: number[] = [];
  for (let i = 0; i < RUNS; i++) runs.push((await manifestLoad(url, OCI_MANIFEST, 5, 200)).perSecond);
  return median(runs);
}

async function timed(fn: () => Promise<unknown>, runs: number): Promise<number> {
  const ms: number[] = [];
  for (let i = 0; i < runs; i++) {
    const t = performance.now();
    await fn();
    ms.push(performance.now() - t);
  }
  return median(ms);
}

async function walk(base: string, first: string): Promise<number> {
  let next: string | undefined = first;
  let count = 0;
  while (next) {
    const res: Response = await fetch(new URL(next, base));
    const body = (await res.json()) as { repositories?: string[]; tags?: string[] };
    count += (body.repositories ?? body.tags ?? []).length;
    const link = res.headers.get('link');
    next = link ? /<([^>]+)>/.exec(link)?.[1] : undefined;
  }
  return count;
}

async function throughLoadBalancer(): Promise<void> {
  const image = makeImage('bench/app', 'latest', [1024]);
  const path = '/v2/bench/app/manifests/latest';
  for (const count of [1, 3]) {
    const trio = await startTrio({ count });
    await pushPreparedImage(trio.lb.url, image);
    console.log(`ours, ${count} replica(s) behind haproxy: ${(await reqPerSecond(trio.lb.url + path)).toFixed(0)} manifest GET/s`);
    await trio.stop();
  }
  const peer = await startDistribution();
  const lb = await startHaproxy([peer.host], '/v2/');
  await pushPreparedImage(peer.url, image);
  console.log(`peer (docker-registry 2.8) behind haproxy: ${(await reqPerSecond(lb.url + path)).toFixed(0)} manifest GET/s`);
  await lb.stop();
  await peer.close();
}

async function redisIndex(size: number): Promise<void> {
  const trio = await startTrio({ count: 1 });
  const base = trio.replicas[0]!.url;
  const image = makeImage('bench/seed', 'latest', [1024]);
  await pushPreparedImage(base, image);
  const conn = await connectRedis(trio.redis.url);
  const index = new RedisMetadataIndex(conn, 'registry:');
  const record = (await index.getManifest('bench/seed', image.manifestDigest as Digest))!;
  const fillStart = performance.now();
  const fill = async (names: string[], tags: (name: string) => string[]) => {
    const batch = 200;
    for (let i = 0; i < names.length; i += batch) {
      await Promise.all(
        names.slice(i, i + batch).map(async (name) => {
          await index.addManifest(name, record);
          for (const t of tags(name)) await index.setTag(name, t, record.digest);
        }),
      );
    }
  };
  await fill(Array.from({ length: size }, (_, i) => `bench/r${String(i).padStart(6, '0')}`), () => ['latest']);
  await fill(['bench/tags'], () => Array.from({ length: 5000 }, (_, i) => `t${String(i).padStart(5, '0')}`));
  const fillS = (performance.now() - fillStart) / 1000;
  const firstPage = await timed(() => fetch(`${base}/v2/_catalog?n=100`).then((r) => r.arrayBuffer()), 5);
  let repos = 0;
  const walkMs = await timed(async () => (repos = await walk(base, '/v2/_catalog?n=1000')), 3);
  const tagPage = await timed(() => fetch(`${base}/v2/bench/tags/tags/list?n=100`).then((r) => r.arrayBuffer()), 5);
  let tags = 0;
  const tagWalk = await timed(async () => (tags = await walk(base, '/v2/bench/tags/tags/list?n=1000')), 3);
  const manifestRps = await reqPerSecond(`${base}/v2/bench/r000042/manifests/latest`);
  const info = await conn.cmd<string>(['INFO', 'memory']);
  const usedMb = Number(/used_memory:(\d+)/.exec(info)?.[1] ?? 0) / 1024 / 1024;
  console.log(
    `redis index, ${size} repositories (+1 with 5,000 tags; filled in ${fillS.toFixed(1)} s, Redis ${usedMb.toFixed(0)} MB): ` +
      `catalog first page ${firstPage.toFixed(1)} ms, walk of ${repos} in pages of 1,000 ${walkMs.toFixed(0)} ms; ` +
      `tag page ${tagPage.toFixed(1)} ms, ${tags} tags walked ${tagWalk.toFixed(0)} ms; manifest GET by tag ${manifestRps.toFixed(0)}/s`,
  );
  await conn.close();
  await trio.stop();
}

/** Time to first byte and to the end of a GET, in ms. */
async function timedGet(url: string): Promise<{ first: number; total: number; bytes: number }> {
  const t = performance.now();
  const res = await fetch(url);
  let first = 0;
  let bytes = 0;
  for await (const chunk of res.body as unknown as AsyncIterable<Uint8Array>) {
    if (bytes === 0) first = performance.now() - t;
    bytes += chunk.length;
  }
  return { first, total: performance.now() - t, bytes };
}

async function coldFillAcrossReplicas(): Promise<void> {
  const hub = await FakeHub.start();
  const trio = await startTrio({ count: 2, config: { upstreams: [{ name: 'hub', url: hub.url, prefix: 'docker.io/', dockerHub: true }] } });
  const owner: Array<{ first: number; total: number }> = [];
  const other: Array<{ first: number; total: number }> = [];
  for (let i = 0; i < 3; i++) {
    const digest = hub.addBlob(randomBytes(64 * 1024 * 1024));
    const path = `/v2/docker.io/library/cold${i}/blobs/${digest}`;
    const a = timedGet(trio.replicas[0]!.url + path);
    await new Promise((r) => setTimeout(r, 20)); // A asks first, so A owns the fill
    const b = timedGet(trio.replicas[1]!.url + path);
    owner.push(await a);
    other.push(await b);
  }
  const fmt = (xs: Array<{ first: number; total: number }>) => `first byte ${median(xs.map((x) => x.first)).toFixed(0)} ms, last ${median(xs.map((x) => x.total)).toFixed(0)} ms`;
  console.log(`cold 64 MiB blob through 2 replicas: owner's client ${fmt(owner)}; other replica's client ${fmt(other)}`);
  await trio.stop();
  await hub.stop();
}

async function main(): Promise<void> {
  if (process.env.BENCH_ONLY_FILL === '1') return coldFillAcrossReplicas();
  if (process.env.BENCH_SKIP_LB !== '1') await throughLoadBalancer();
  await coldFillAcrossReplicas();
  for (const size of SIZES) await redisIndex(size);
}

main().catch((err: unknown) => {
  console.error(err);
  process.exit(1);
});
