/**
 * Lifecycle bench (issue 11), not part of `npm test`:  node --import tsx bench/lifecycle.ts
 *   1. eviction of 10,000 cached blobs (2,500 cached images: manifest, config, 2 layers), cap 1 byte;
 *   2. GC over 100,000 blobs and 10,000 manifests (50,000 referenced, 50,000 unreferenced and old), and the peer's
 *      offline `docker-registry garbage-collect` over the same shape of store in its own layout (needs /usr/bin/time);
 *   3. manifest GET req/s on a cached image through the mirror with last-use tracking on (cache.maxBytes set)
 *      and off, alternating, median of BENCH_ROUNDS (3); the peer (docker-registry 2.8, hosted) from the same run.
 * Phases 1 and 2 run in a child process each (so its peak RSS is the sweep's, not the data generation's).
 * Knobs: BENCH_ONLY (evict | gc | peer-gc | load), BENCH_EVICT_IMAGES (2500), BENCH_GC_MANIFESTS (10000), BENCH_GC_GARBAGE (50000), BENCH_ROUNDS (3),
 * BENCH_LOAD_SECONDS (8), BENCH_CONNECTIONS (32).
 */
import { spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdir, readdir, rm, utimes, writeFile } from 'node:fs/promises';
import { cpus, loadavg } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseConfig } from '../src/config/load.js';
import { createLogger } from '../src/log.js';
import { Lifecycle } from '../src/lifecycle/lifecycle.js';
import { FsMetadataIndex } from '../src/metadata/fs-metadata-index.js';
import { systemClock } from '../src/oci/types.js';
import { FsBlobStore } from '../src/storage/fs-blob-store.js';
import { Layout } from '../src/storage/layout.js';
import { DISTRIBUTION_BIN, freePort } from '../test/helpers/distribution.js';
import { FakeHub } from '../test/helpers/fake-hub.js';
import { makeImage, pushPreparedImage } from '../test/helpers/push-image.js';
import { OCI_MANIFEST, sha256 } from '../test/helpers/push.js';
import { tmpDir } from '../test/helpers/registry.js';
import { stopChild } from '../test/helpers/run-tool.js';
import { manifestLoad } from './http-load.js';
import { startPeer } from './servers.js';

const ROOT = fileURLToPath(new URL('..', import.meta.url));
const env = (k: string, d: number) => Number(process.env[k] ?? d);
const OLD = new Date(Date.now() - 30 * 86_400_000);

/** Writes files the way the registry lays them out, without fsync (test data, not registry writes). */
class DirectWriter {
  readonly layout: Layout;
  private pending: Array<Promise<void>> = [];
  constructor(root: string) {
    this.layout = new Layout(root);
  }
  async file(path: string, data: string | Buffer, mtime?: Date): Promise<void> {
    this.pending.push(
      (async () => {
        await mkdir(dirname(path), { recursive: true });
        await writeFile(path, data);
        if (mtime) await utimes(path, mtime, mtime);
      })(),
    );
    if (this.pending.length >= 256) await this.drain();
  }
  async drain(): Promise<void> {
    await Promise.all(this.pending.splice(0));
  }
  /** A blob with random bytes; returns its digest and size. */
  async blob(size = 48, mtime = OLD): Promise<{ digest: string; size: number }> {
    const bytes = randomBytes(size);
    const digest = sha256(bytes);
    await this.file(this.layout.blob(digest as never), bytes, mtime);
    return { digest, size };
  }
  async image(repo: string, origin: 'hosted' | 'cached', layers: number): Promise<void> {
    const config = await this.blob();
    const ls = [];
    for (let i = 0; i < layers; i++) ls.push(await this.blob());
    const body = Buffer.from(JSON.stringify({ schemaVersion: 2, mediaType: OCI_MANIFEST, config: { mediaType: 'application/vnd.oci.image.config.v1+json', ...config }, layers: ls.map((l) => ({ mediaType: 'application/vnd.oci.image.layer.v1.tar', ...l })) }));
    const digest = sha256(body);
    await this.file(this.layout.blob(digest as never), body, OLD);
    const record = { mediaType: OCI_MANIFEST, digest, size: body.length, createdAt: OLD.getTime(), origin };
    await this.file(this.layout.manifest(repo, digest as never), JSON.stringify(record));
    await this.file(this.layout.tag(repo, `t${digest.slice(7, 15)}`), digest);
    for (const b of [config, ...ls]) await this.file(this.layout.blobLink(repo, b.digest as never), JSON.stringify({ origin }));
  }
}

/** Child side: one sweep over an existing data folder; prints a JSON line with its figures. */
async function sweep(kind: 'evict' | 'gc', dataDir: string): Promise<void> {
  const layout = new Layout(dataDir);
  const blobs = new FsBlobStore(layout);
  await blobs.init();
  const config = parseConfig({ storage: { dataDir, trashDays: 0, gc: { graceSeconds: 3600 } }, cache: { maxBytes: 1, lowWatermark: 0.5, highWatermark: 0.5 } });
  const lifecycle = new Lifecycle({ config, dataDir, tmpDir: layout.tmpDir, index: new FsMetadataIndex(layout), blobs, clock: systemClock, logger: createLogger('warn'), schedule: false });
  const t = performance.now();
  const report = kind === 'evict' ? await lifecycle.runEviction() : await lifecycle.runGc();
  const seconds = (performance.now() - t) / 1000;
  await lifecycle.close();
  const summary = kind === 'evict' ? { images: (report as { images: number }).images, blobs: (report as { blobs: number }).blobs } : { blobs: (report as { blobs: number }).blobs, bytes: (report as { bytes: number }).bytes };
  console.log(JSON.stringify({ kind, seconds, peakRssMB: process.resourceUsage().maxRSS / 1024, ...summary }));
}

function runChild(args: string[]): Promise<Record<string, number | string>> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, ['--import', 'tsx', join(ROOT, 'bench', 'lifecycle.ts'), ...args], { cwd: ROOT, stdio: ['ignore', 'pipe', 'inherit'] });
    let out = '';
    child.stdout.on('data', (b: Buffer) => (out += b.toString()));
    child.on('exit', (code) => {
      const line = out.trim().split('\n').pop() ?? '';
      try {
        if (code !== 0) throw new Error(`exit ${code}`);
        resolve(JSON.parse(line) as Record<string, number | string>);
      } catch (err) {
        reject(new Error(`${args.join(' ')}: ${(err as Error).message}\n${out}`));
      }
    });
  });
}

async function evictionPhase(): Promise<void> {
  const root = await tmpDir('bench-evict-');
  const images = env('BENCH_EVICT_IMAGES', 2500);
  const w = new DirectWriter(join(root, 'data'));
  for (let i = 0; i < images; i++) await w.image(`docker.io/lib/e${i % 500}`, 'cached', 2);
  await w.drain();
  const r = await runChild(['sweep', 'evict', join(root, 'data')]);
  console.log(`eviction: ${r.images} cached images, ${r.blobs} blobs in ${Number(r.seconds).toFixed(2)} s, peak RSS ${Number(r.peakRssMB).toFixed(0)} MB`);
  await rm(root, { recursive: true, force: true });
}

async function gcPhase(): Promise<void> {
  const root = await tmpDir('bench-gc-');
  const manifests = env('BENCH_GC_MANIFESTS', 10_000);
  const garbage = env('BENCH_GC_GARBAGE', 50_000);
  const w = new DirectWriter(join(root, 'data'));
  for (let i = 0; i < manifests; i++) await w.image(`team/app${i % 100}`, 'hosted', 3);
  for (let i = 0; i < garbage; i++) await w.blob(32);
  await w.drain();
  const total = manifests * 5 + garbage;
  const r = await runChild(['sweep', 'gc', join(root, 'data')]);
  console.log(`gc: ${total} blobs, ${manifests} manifests → reclaimed ${r.blobs} blobs in ${Number(r.seconds).toFixed(2)} s, peak RSS ${Number(r.peakRssMB).toFixed(0)} MB`);
  await rm(root, { recursive: true, force: true });
}

/**
 * The peer's figure for the same store: Distribution 2.8's `garbage-collect` (offline: the registry must be stopped
 * or read-only) over 10,000 manifests and 100,000 blobs written in its own layout (docker/registry/v2/…).
 */
async function peerGcPhase(): Promise<void> {
  const root = await tmpDir('bench-peer-gc-');
  const manifests = env('BENCH_GC_MANIFESTS', 10_000);
  const garbage = env('BENCH_GC_GARBAGE', 50_000);
  const v2 = join(root, 'data', 'docker', 'registry', 'v2');
  const w = new DirectWriter(join(root, 'unused'));
  const blob = async (bytes: Buffer) => {
    const digest = sha256(bytes);
    await w.file(join(v2, 'blobs', 'sha256', digest.slice(7, 9), digest.slice(7), 'data'), bytes);
    return { digest, size: bytes.length };
  };
  const link = (repo: string, ...parts: string[]) => join(v2, 'repositories', repo, ...parts, 'link');
  for (let i = 0; i < manifests; i++) {
    const repo = `team/app${i % 100}`;
    const config = await blob(randomBytes(48));
    const layers = [await blob(randomBytes(48)), await blob(randomBytes(48)), await blob(randomBytes(48))];
    const body = Buffer.from(JSON.stringify({ schemaVersion: 2, mediaType: OCI_MANIFEST, config: { mediaType: 'application/vnd.oci.image.config.v1+json', ...config }, layers: layers.map((l) => ({ mediaType: 'application/vnd.oci.image.layer.v1.tar', ...l })) }));
    const m = await blob(body);
    for (const b of [config, ...layers]) await w.file(link(repo, '_layers', 'sha256', b.digest.slice(7)), b.digest);
    await w.file(link(repo, '_manifests', 'revisions', 'sha256', m.digest.slice(7)), m.digest);
    const tag = `t${m.digest.slice(7, 15)}`;
    await w.file(link(repo, '_manifests', 'tags', tag, 'current'), m.digest);
    await w.file(link(repo, '_manifests', 'tags', tag, 'index', 'sha256', m.digest.slice(7)), m.digest);
  }
  for (let i = 0; i < garbage; i++) await blob(randomBytes(32));
  await w.drain();
  const configPath = join(root, 'config.yml');
  await writeFile(configPath, ['version: 0.1', 'log:', '  level: error', 'storage:', '  filesystem:', `    rootdirectory: ${JSON.stringify(join(root, 'data'))}`, ''].join('\n'));
  const t = performance.now();
  const rssKb = await new Promise<number>((resolve, reject) => {
    const child = spawn('/usr/bin/time', ['-f', '%M', DISTRIBUTION_BIN, 'garbage-collect', configPath], { stdio: ['ignore', 'ignore', 'pipe'] });
    let err = '';
    child.stderr.on('data', (b: Buffer) => (err += b.toString()));
    child.on('error', reject);
    child.on('exit', (code) => (code === 0 ? resolve(Number(err.trim().split('\n').pop())) : reject(new Error(`peer gc exit ${code}: ${err.slice(-500)}`))));
  });
  const seconds = (performance.now() - t) / 1000;
  let left = 0;
  for await (const _ of walkData(join(v2, 'blobs'))) left++;
  console.log(`peer gc (docker-registry 2.8 garbage-collect, offline): ${manifests * 5 + garbage} blobs, ${manifests} manifests → ${manifests * 5 + garbage - left} removed in ${seconds.toFixed(2)} s, peak RSS ${(rssKb / 1024).toFixed(0)} MB`);
  await rm(root, { recursive: true, force: true });
}

async function* walkData(dir: string): AsyncGenerator<string> {
  for (const e of await readdir(dir, { withFileTypes: true }).catch(() => [])) {
    if (e.isDirectory()) yield* walkData(join(dir, e.name));
    else if (e.name === 'data') yield join(dir, e.name);
  }
}

/** Our server from source (tsx) as a child process, in mirror mode in front of `hubUrl`. */
async function startMirrorProcess(hubUrl: string, tracking: boolean): Promise<{ url: string; close(): Promise<void> }> {
  const dir = await tmpDir('bench-lastuse-');
  const port = await freePort();
  const config = {
    server: { host: '127.0.0.1', port, workers: 1 },
    storage: { dataDir: join(dir, 'data'), gc: { intervalSeconds: 0 } },
    log: { level: 'warn' },
    metrics: { enabled: true },
    cache: tracking ? { maxBytes: '100GiB' } : {},
    upstreams: [{ name: 'hub', url: hubUrl, prefix: 'docker.io/', default: true, tagTtlSeconds: 86_400 }],
  };
  await writeFile(join(dir, 'config.yaml'), JSON.stringify(config));
  const child = spawn(process.execPath, ['--import', 'tsx', 'src/main.ts', '--config', join(dir, 'config.yaml')], { cwd: ROOT, stdio: ['ignore', 'ignore', 'inherit'] });
  const exited = new Promise<void>((r) => child.once('exit', () => r()));
  const url = `http://127.0.0.1:${port}`;
  for (let i = 0; ; i++) {
    if (await fetch(`${url}/healthz`).then((r) => r.ok, () => false)) break;
    if (i > 600) throw new Error('mirror did not start');
    await new Promise((r) => setTimeout(r, 100));
  }
  return {
    url,
    async close() {
      await stopChild(child, exited, 10_000);
      await rm(dir, { recursive: true, force: true });
    },
  };
}

async function loadPhase(): Promise<void> {
  const hub = await FakeHub.start();
  const image = makeImage('lib/app', '1', [1024]);
  for (const b of image.blobs) hub.addBlob(b.data);
  hub.addManifest('lib/app', OCI_MANIFEST, image.manifest, '1');
  const on = await startMirrorProcess(hub.url, true);
  const off = await startMirrorProcess(hub.url, false);
  const peer = await startPeer();
  try {
    await measureLoad(image, on.url, off.url, peer.url);
  } finally {
    await on.close();
    await off.close();
    await peer.close();
    await hub.stop();
  }
}

async function measureLoad(image: ReturnType<typeof makeImage>, onUrl: string, offUrl: string, peerUrl: string): Promise<void> {
  await pushPreparedImage(peerUrl, image);
  const seconds = env('BENCH_LOAD_SECONDS', 8);
  const conns = env('BENCH_CONNECTIONS', 32);
  const rounds = env('BENCH_ROUNDS', 3);
  const results: Record<'on' | 'off' | 'peer', number[]> = { on: [], off: [], peer: [] };
  const targets = { on: `${onUrl}/v2/lib/app/manifests/1`, off: `${offUrl}/v2/lib/app/manifests/1`, peer: `${peerUrl}/v2/lib/app/manifests/1` };
  let tool = '';
  for (const k of ['on', 'off'] as const) {
    const warm = await fetch(targets[k], { headers: { accept: OCI_MANIFEST } });
    if (warm.status !== 200) throw new Error(`${k}: ${warm.status}`);
  }
  for (let r = 0; r < rounds; r++) {
    const order: Array<'on' | 'off' | 'peer'> = r % 2 === 0 ? ['on', 'off', 'peer'] : ['off', 'on', 'peer'];
    for (const k of order) {
      await manifestLoad(targets[k], OCI_MANIFEST, 1, conns); // warm-up
      const res = await manifestLoad(targets[k], OCI_MANIFEST, seconds, conns);
      if (res.errors > 0) console.log(`  (${k}: ${res.errors} errors in one run: the machine is overloaded)`);
      results[k].push(res.perSecond);
      tool = res.tool;
    }
  }
  const median = (v: number[]) => [...v].sort((a, b) => a - b)[Math.floor(v.length / 2)]!;
  const mOn = median(results.on);
  const mOff = median(results.off);
  console.log(`manifest GET (cached image by tag through the mirror, ${tool}, ${seconds}s, median of ${rounds}):`);
  console.log(`  tracking on  ${mOn.toFixed(0)} req/s   runs ${results.on.map((v) => v.toFixed(0)).join(', ')}`);
  console.log(`  tracking off ${mOff.toFixed(0)} req/s   runs ${results.off.map((v) => v.toFixed(0)).join(', ')}`);
  console.log(`  on/off ${(mOn / mOff).toFixed(3)} (${((1 - mOn / mOff) * 100).toFixed(1)}% drop; budget 5%)`);
  console.log(`  peer (docker-registry 2.8, hosted manifest by tag) ${median(results.peer).toFixed(0)} req/s   runs ${results.peer.map((v) => v.toFixed(0)).join(', ')}`);
}

const [mode, kind, dataDir] = process.argv.slice(2);
if (mode === 'sweep') {
  await sweep(kind as 'evict' | 'gc', dataDir!);
} else {
  console.log(`lifecycle bench on ${cpus().length} cores, load average ${loadavg().map((v) => v.toFixed(1)).join(' ')}`);
  const only = process.env.BENCH_ONLY;
  if (!only || only === 'evict') await evictionPhase();
  if (!only || only === 'gc') await gcPhase();
  if (!only || only === 'peer-gc') await peerGcPhase();
  if (!only || only === 'load') await loadPhase();
  console.log(`load average at end ${loadavg().map((v) => v.toFixed(1)).join(' ')}`);
}
