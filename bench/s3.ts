/**
 * Blob push and GET on the S3 driver against the filesystem driver, in one run, and peak RSS while
 * a 2 GiB blob goes in and out through S3 (must stay under 200 MB: memory flat in blob size).
 *
 *   npm run build && node --import tsx bench/s3.ts     (BENCH_BIG_MIB=200, BENCH_HUGE_MIB=2048, BENCH_BLOB_ROUNDS=3)
 *
 * Ours runs built (dist/main.js, as `npm start` does) as its own child, one process, configured through the
 * environment as a user would; the S3 endpoint is s3rver (npm) as another child on loopback, so
 * its disk writes and XML are part of the S3 figures (a real S3 or MinIO has other costs).
 */
import { spawn } from 'node:child_process';
import { createHash, randomBytes } from 'node:crypto';
import { createReadStream, createWriteStream } from 'node:fs';
import { rm, stat } from 'node:fs/promises';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import { finished } from 'node:stream/promises';
import { freePort } from '../test/helpers/distribution.js';
import { tmpDir } from '../test/helpers/registry.js';
import { stopChild } from '../test/helpers/run-tool.js';
import { S3_ENV, startS3, type RunningS3 } from '../test/helpers/s3.js';
import { currentRss, nodeFlags, withRssSampling } from './servers.js';

const ROOT = new URL('..', import.meta.url).pathname;
const BIG = Number(process.env.BENCH_BIG_MIB ?? 200) * 1024 * 1024;
const HUGE = Number(process.env.BENCH_HUGE_MIB ?? 2048) * 1024 * 1024;
const ROUNDS = Number(process.env.BENCH_BLOB_ROUNDS ?? 3);

interface Ours {
  url: string;
  pid: number;
  close(): Promise<void>;
}

async function startOurs(dataDir: string, env: Record<string, string>): Promise<Ours> {
  const port = await freePort();
  const child = spawn(process.execPath, [...nodeFlags(), join(ROOT, 'dist', 'main.js')], {
    cwd: ROOT,
    env: { ...process.env, PORT: String(port), HOST: '127.0.0.1', DATA_DIR: dataDir, LOG_LEVEL: 'warn', REGISTRY_SERVER__WORKERS: '1', ...env },
    stdio: ['ignore', 'inherit', 'inherit'],
  });
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  const url = `http://127.0.0.1:${port}`;
  for (let i = 0; ; i++) {
    if (child.exitCode !== null || i > 600) throw new Error('our server did not come up');
    const ok = await fetch(`${url}/v2/`).then((r) => r.ok, () => false);
    if (ok) break;
    await new Promise((r) => setTimeout(r, 50));
  }
  return { url, pid: child.pid!, close: () => stopChild(child, exited, 10_000) };
}

function s3Env(s3: RunningS3): Record<string, string> {
  return {
    ...S3_ENV,
    REGISTRY_STORAGE__DRIVER: 's3',
    REGISTRY_STORAGE__S3__BUCKET: s3.bucket,
    REGISTRY_STORAGE__S3__ENDPOINT: s3.endpoint,
    REGISTRY_STORAGE__S3__FORCE_PATH_STYLE: 'true',
  };
}

/** A random file of `size` bytes and its digest, written in 1 MiB pieces. */
async function randomFile(dir: string, size: number): Promise<{ path: string; digest: string }> {
  const path = join(dir, `blob-${size}`);
  const hash = createHash('sha256');
  const out = createWriteStream(path);
  for (let left = size; left > 0; ) {
    const piece = randomBytes(Math.min(left, 1024 * 1024));
    hash.update(piece);
    left -= piece.length;
    if (!out.write(piece)) await new Promise<void>((r) => out.once('drain', () => r()));
  }
  out.end();
  await finished(out);
  return { path, digest: `sha256:${hash.digest('hex')}` };
}

/** POST + one streaming PUT ?digest=: seconds. */
async function push(url: string, repo: string, file: { path: string; digest: string }): Promise<number> {
  const t0 = performance.now();
  const post = await fetch(`${url}/v2/${repo}/blobs/uploads/`, { method: 'POST' });
  await post.arrayBuffer();
  const location = new URL(post.headers.get('location')!, url);
  location.searchParams.set('digest', file.digest);
  const size = (await stat(file.path)).size;
  const res = await fetch(location, {
    method: 'PUT',
    body: Readable.toWeb(createReadStream(file.path, { highWaterMark: 1024 * 1024 })) as ReadableStream,
    headers: { 'content-type': 'application/octet-stream', 'content-length': String(size) },
    duplex: 'half',
  } as RequestInit);
  await res.arrayBuffer();
  if (res.status !== 201) throw new Error(`push: ${res.status}`);
  return (performance.now() - t0) / 1000;
}

/** GET (following a redirect, if any), bytes discarded: MB/s. */
async function pull(url: string, repo: string, digest: string, size: number): Promise<number> {
  const t0 = performance.now();
  const res = await fetch(`${url}/v2/${repo}/blobs/${digest}`);
  let n = 0;
  for await (const chunk of res.body as unknown as AsyncIterable<Uint8Array>) n += chunk.length;
  if (n !== size) throw new Error(`pull: ${n} of ${size} bytes`);
  return size / 1e6 / ((performance.now() - t0) / 1000);
}

const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;
const mb = (b: number) => `${(b / 1024 / 1024).toFixed(0)} MB`;

async function main(): Promise<void> {
  const work = await tmpDir('bench-s3-');
  try {
    const big = await randomFile(work, BIG);
    console.log(`S3 bench: ${BIG / 1024 / 1024} MiB blob × ${ROUNDS}, then ${HUGE / 1024 / 1024} MiB on S3; load ${(await import('node:os')).loadavg().map((l) => l.toFixed(2)).join(' ')}`);
    const rows: Array<{ label: string; push: number; get: number }> = [];
    for (const driver of ['filesystem', 's3', 's3 redirect'] as const) {
      const s3 = driver === 'filesystem' ? undefined : await startS3({ child: true });
      const env = s3 ? { ...s3Env(s3), ...(driver === 's3 redirect' ? { REGISTRY_STORAGE__S3__REDIRECT: 'true' } : {}) } : {};
      const ours = await startOurs(join(work, `data-${rows.length}`), env);
      try {
        const pushes: number[] = [];
        const gets: number[] = [];
        for (let i = 0; i < ROUNDS; i++) {
          pushes.push(await push(ours.url, `bench/r${i}`, big));
          gets.push(await pull(ours.url, `bench/r${i}`, big.digest, BIG));
        }
        rows.push({ label: driver, push: median(pushes), get: median(gets) });
      } finally {
        await ours.close();
        await s3?.close();
      }
    }
    const fs = rows[0]!;
    console.log(`  ${'driver'.padEnd(14)} ${'push s'.padStart(8)} ${'GET MB/s'.padStart(9)}  (median of ${ROUNDS}; ratio to filesystem)`);
    for (const r of rows) console.log(`  ${r.label.padEnd(14)} ${r.push.toFixed(2).padStart(8)} ${r.get.toFixed(0).padStart(9)}  push ×${(r.push / fs.push).toFixed(2)}, GET ×${(r.get / fs.get).toFixed(2)}`);
    await rm(big.path);

    if (HUGE > 0) {
      const huge = await randomFile(work, HUGE);
      const s3 = await startS3({ child: true });
      const ours = await startOurs(join(work, 'data-huge'), s3Env(s3));
      try {
        const idle = await currentRss(ours.pid);
        const { result, maxSampled, hwm } = await withRssSampling(ours.pid, async () => ({
          push: await push(ours.url, 'bench/huge', huge),
          get: await pull(ours.url, 'bench/huge', huge.digest, HUGE),
        }));
        const peak = Math.max(maxSampled, hwm);
        console.log(`  ${HUGE / 1024 / 1024} MiB on S3: push ${result.push.toFixed(1)} s, GET ${result.get.toFixed(0)} MB/s, peak RSS ${mb(peak)} (idle before: ${mb(idle)}) ${peak < 200 * 1024 * 1024 ? 'PASS' : 'FAIL'} (< 200 MB)`);
      } finally {
        await ours.close();
        await s3.close();
      }
    }
  } finally {
    await rm(work, { recursive: true, force: true });
  }
}

await main();
