/**
 * Catalog and tag-list figures, ours against Debian's docker-registry (Distribution 2.8), in one run.
 *
 *   node --import tsx bench/catalog.ts            (BENCH_CATALOG_SIZES=5000,50000 by default)
 *
 * Both stores are filled the same way, by writing each registry's own on-disk layout directly
 * (pushing 50,000 images through HTTP would take longer than the measurement is worth): N
 * repositories bench/rNNNNNN holding one small image (config + one layer + manifest, tag latest;
 * the blobs shared, as both registries deduplicate them), plus bench/tags with 5,000 tags.
 * Our catalog log does not exist after such a fill, so the first catalog request rebuilds it from
 * the tree (what an upgrade from an older version does): printed as "first page, log rebuilt".
 * Then both servers restart and the steady-state figures are taken:
 *   first page     GET /v2/_catalog?n=100 on a fresh process (cold: includes loading the index)
 *   page (warm)    the same request after one untimed walk of each listing, median of 5
 *   walk           the whole catalog following Link headers in pages of 1,000, median of 3
 *   tags           /v2/bench/tags/tags/list?n=100 warm, and the whole list in pages of 1,000
 * Ours runs from the sources (tsx), one process, as its own child.
 */
import { spawn } from 'node:child_process';
import { createHash } from 'node:crypto';
import { mkdirSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { freePort, startDistribution, type RunningDistribution } from '../test/helpers/distribution.js';
import { tmpDir } from '../test/helpers/registry.js';
import { stopChild } from '../test/helpers/run-tool.js';
import { waitUp } from './servers.js';

const ROOT = new URL('..', import.meta.url).pathname;
const SIZES = (process.env.BENCH_CATALOG_SIZES ?? '5000,50000').split(',').map(Number);
const TAGS = Number(process.env.BENCH_CATALOG_TAGS ?? 5000);
/** Walks per figure (the peer's 50,000-repository walk takes minutes: BENCH_WALK_ROUNDS=1 there). */
const WALKS = Number(process.env.BENCH_WALK_ROUNDS ?? 3);
/** "oursDir:peerDir" of an earlier fill of the same size, kept instead of filling again. */
const REUSE = process.env.BENCH_CATALOG_DIRS?.split(':');
const MT = 'application/vnd.oci.image.manifest.v1+json';

const sha = (b: Buffer | string) => createHash('sha256').update(b).digest('hex');

interface Image {
  config: Buffer;
  layer: Buffer;
  manifest: Buffer;
}

function image(): Image {
  const config = Buffer.from(JSON.stringify({ architecture: 'amd64', os: 'linux', rootfs: { type: 'layers', diff_ids: [] } }));
  const layer = Buffer.from('a small layer');
  const manifest = Buffer.from(
    JSON.stringify({
      schemaVersion: 2,
      mediaType: MT,
      config: { mediaType: 'application/vnd.oci.image.config.v1+json', digest: `sha256:${sha(config)}`, size: config.length },
      layers: [{ mediaType: 'application/vnd.oci.image.layer.v1.tar', digest: `sha256:${sha(layer)}`, size: layer.length }],
    }),
  );
  return { config, layer, manifest };
}

function write(path: string, data: Buffer | string): void {
  try {
    writeFileSync(path, data);
  } catch {
    mkdirSync(join(path, '..'), { recursive: true });
    writeFileSync(path, data);
  }
}

/** Our layout (src/storage/layout.ts): blobs/<alg>/<xx>/<hex>, repositories/<name>/_tags|_manifests|_layers. */
function fillOurs(root: string, repos: string[], img: Image): void {
  const blobs = [img.config, img.layer, img.manifest];
  for (const b of blobs) write(join(root, 'blobs', 'sha256', sha(b).slice(0, 2), sha(b)), b);
  const m = sha(img.manifest);
  const record = JSON.stringify({ mediaType: MT, digest: `sha256:${m}`, size: img.manifest.length, createdAt: Date.now(), origin: 'hosted' });
  const link = JSON.stringify({ origin: 'hosted' });
  for (const repo of repos) {
    const dir = join(root, 'repositories', ...repo.split('/'));
    write(join(dir, '_manifests', 'sha256', m), record);
    for (const b of [img.config, img.layer]) write(join(dir, '_layers', 'sha256', sha(b)), link);
    for (const tag of repo === 'bench/tags' ? tagNames() : ['latest']) write(join(dir, '_tags', tag), `sha256:${m}`);
  }
}

/** Distribution's layout (registry/storage/paths.go) under docker/registry/v2. */
function fillPeer(root: string, repos: string[], img: Image): void {
  const v2 = join(root, 'docker', 'registry', 'v2');
  for (const b of [img.config, img.layer, img.manifest]) write(join(v2, 'blobs', 'sha256', sha(b).slice(0, 2), sha(b), 'data'), b);
  const m = sha(img.manifest);
  for (const repo of repos) {
    const dir = join(v2, 'repositories', ...repo.split('/'));
    write(join(dir, '_manifests', 'revisions', 'sha256', m, 'link'), `sha256:${m}`);
    for (const b of [img.config, img.layer]) write(join(dir, '_layers', 'sha256', sha(b), 'link'), `sha256:${sha(b)}`);
    for (const tag of repo === 'bench/tags' ? tagNames() : ['latest']) {
      write(join(dir, '_manifests', 'tags', tag, 'current', 'link'), `sha256:${m}`);
      write(join(dir, '_manifests', 'tags', tag, 'index', 'sha256', m, 'link'), `sha256:${m}`);
    }
  }
}

function tagNames(): string[] {
  return Array.from({ length: TAGS }, (_, i) => `v${String(i).padStart(5, '0')}`);
}

interface Server {
  url: string;
  close(): Promise<void>;
}

async function startOursOn(dataDir: string): Promise<Server> {
  const port = await freePort();
  const child = spawn(process.execPath, ['--import', 'tsx', join(ROOT, 'src', 'main.ts')], {
    cwd: ROOT,
    env: { ...process.env, PORT: String(port), HOST: '127.0.0.1', DATA_DIR: dataDir, LOG_LEVEL: 'warn', REGISTRY_SERVER__WORKERS: '1' },
    stdio: ['ignore', 'inherit', 'inherit'],
  });
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  const url = `http://127.0.0.1:${port}`;
  await waitUp(url, () => child.exitCode !== null);
  return { url, close: () => stopChild(child, exited, 10_000) };
}

async function startPeerOn(dataDir: string): Promise<Server> {
  const d: RunningDistribution = await startDistribution({ dataDir, logLevel: 'error' });
  return { url: d.url, close: () => d.close() };
}

/** ms for one GET (body read), and the next page's path from the Link header. */
async function timed(url: string): Promise<{ ms: number; next?: string; count: number }> {
  const t0 = performance.now();
  const res = await fetch(url);
  const body = (await res.json()) as { repositories?: string[]; tags?: string[] };
  const ms = performance.now() - t0;
  if (!res.ok) throw new Error(`${url}: ${res.status}`);
  const link = res.headers.get('link');
  const next = link ? /<([^>]+)>/.exec(link)?.[1] : undefined;
  return { ms, next, count: (body.repositories ?? body.tags ?? []).length };
}

async function walk(base: string, first: string): Promise<{ ms: number; count: number }> {
  const t0 = performance.now();
  let path: string | undefined = first;
  let count = 0;
  while (path) {
    const r = await timed(`${base}${path}`);
    count += r.count;
    path = r.next;
  }
  return { ms: performance.now() - t0, count };
}

const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;
const fmt = (ms: number) => (ms >= 1000 ? `${(ms / 1000).toFixed(2)} s` : `${ms.toFixed(1)} ms`);

async function measure(label: string, start: () => Promise<Server>, expectRepos: number): Promise<Record<string, number>> {
  const s = await start();
  try {
    const out: Record<string, number> = {};
    out.first = (await timed(`${s.url}/v2/_catalog?n=100`)).ms;
    // Warm-up (not timed) on both servers alike: a few catalog pages and one walk of the tags.
    for (let i = 0; i < 3; i++) await timed(`${s.url}/v2/_catalog?n=1000`);
    await walk(s.url, '/v2/bench/tags/tags/list?n=1000');
    const warm: number[] = [];
    for (let i = 0; i < 5; i++) warm.push((await timed(`${s.url}/v2/_catalog?n=100`)).ms);
    out.warm = median(warm);
    const walks: number[] = [];
    for (let i = 0; i < WALKS; i++) {
      const w = await walk(s.url, '/v2/_catalog?n=1000');
      if (w.count !== expectRepos) throw new Error(`${label}: walk listed ${w.count} repositories, expected ${expectRepos}`);
      walks.push(w.ms);
    }
    out.walk = median(walks);
    const tagPage: number[] = [];
    for (let i = 0; i < 5; i++) tagPage.push((await timed(`${s.url}/v2/bench/tags/tags/list?n=100`)).ms);
    out.tagPage = median(tagPage);
    const tagWalks: number[] = [];
    for (let i = 0; i < 3; i++) {
      const w = await walk(s.url, '/v2/bench/tags/tags/list?n=1000');
      if (w.count !== TAGS) throw new Error(`${label}: tag walk listed ${w.count}, expected ${TAGS}`);
      tagWalks.push(w.ms);
    }
    out.tagWalk = median(tagWalks);
    console.log(`  ${label}: ${JSON.stringify(Object.fromEntries(Object.entries(out).map(([k, v]) => [k, Math.round(v * 10) / 10])))} (ms)`);
    return out;
  } finally {
    await s.close();
  }
}

async function main(): Promise<void> {
  const img = image();
  console.log(`catalog bench: sizes ${SIZES.join(', ')}, ${TAGS} tags in bench/tags; load ${(await import('node:os')).loadavg().map((l) => l.toFixed(2)).join(' ')}`);
  for (const n of SIZES) {
    const repos = Array.from({ length: n }, (_, i) => `bench/r${String(i).padStart(6, '0')}`);
    repos.push('bench/tags');
    const oursDir = REUSE?.[0] ?? (await tmpDir('bench-cat-ours-'));
    const peerDir = REUSE?.[1] ?? (await tmpDir('bench-cat-peer-'));
    try {
      if (!REUSE) {
        let t0 = performance.now();
        fillOurs(oursDir, repos, img);
        const fillOursMs = performance.now() - t0;
        t0 = performance.now();
        fillPeer(peerDir, repos, img);
        console.log(`\n${n} repositories (+ bench/tags): filled ours in ${fmt(fillOursMs)}, peer in ${fmt(performance.now() - t0)}`);

        // Ours without a catalog log yet: the first request rebuilds it from the tree (an upgrade).
        const fresh = await startOursOn(oursDir);
        const rebuilt = await timed(`${fresh.url}/v2/_catalog?n=100`);
        await fresh.close();
        console.log(`  ours first page, log rebuilt from the tree (once, after an upgrade): ${fmt(rebuilt.ms)}`);
      } else console.log(`\n${n} repositories (+ bench/tags), reusing ${REUSE.join(' and ')}`);

      const ours = await measure('ours', () => startOursOn(oursDir), repos.length);
      const peer = await measure('peer', () => startPeerOn(peerDir), repos.length);
      const rows: Array<[string, keyof typeof ours]> = [
        ['GET /v2/_catalog?n=100, first request of a fresh process', 'first'],
        ['GET /v2/_catalog?n=100, warm (median of 5)', 'warm'],
        [`whole catalog in pages of 1,000 (median of ${WALKS})`, 'walk'],
        [`tags/list?n=100 of a ${TAGS}-tag repository (median of 5)`, 'tagPage'],
        [`all ${TAGS} tags in pages of 1,000 (median of 3)`, 'tagWalk'],
      ];
      console.log(`  ${'figure'.padEnd(62)} ${'ours'.padStart(10)} ${'peer'.padStart(10)}  ours/peer`);
      for (const [title, key] of rows) {
        console.log(`  ${title.padEnd(62)} ${fmt(ours[key]!).padStart(10)} ${fmt(peer[key]!).padStart(10)}  ${(ours[key]! / peer[key]!).toFixed(2)}`);
      }
    } finally {
      if (!REUSE) {
        rmSync(oursDir, { recursive: true, force: true });
        rmSync(peerDir, { recursive: true, force: true });
      }
    }
  }
}

await main();
