import { createWriteStream } from 'node:fs';
import { rm } from 'node:fs/promises';
import { loadavg } from 'node:os';
import { join } from 'node:path';
import { pipeline } from 'node:stream/promises';
import { DigestingStream } from '../src/oci/digest.js';
import { seededBytes } from '../test/helpers/oci-layout.js';
import { OCI_MANIFEST, pushImage } from '../test/helpers/push.js';
import { tmpDir } from '../test/helpers/registry.js';
import { blobReadMBps, manifestLoad, pushBlobFile } from './http-load.js';
import { startOurs, startPeer, type BenchServer } from './servers.js';

/**
 * Does the pull path stay as fast with the pages and download counting on? Manifest GET req/s and blob
 * GET MB/s of our server with `ui.enabled: true` (the default: every manifest GET is counted) and with
 * `ui.enabled: false`, and of the peer (docker-registry 2.8), in one run, rounds alternating, medians.
 * `npm run build && node --import tsx bench/ui-overhead.ts`. Not part of npm test.
 */

const SECONDS = Number(process.env.BENCH_LOAD_SECONDS ?? 5);
const CONNECTIONS = Number(process.env.BENCH_CONNECTIONS ?? 32);
const ROUNDS = Number(process.env.BENCH_ROUNDS ?? 3);
const BLOB_MIB = Number(process.env.BENCH_BIG_MIB ?? 200);

function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.floor(s.length / 2)]!;
}

async function main(): Promise<void> {
  const work = await tmpDir('bench-ui-');
  const blobFile = join(work, 'blob.bin');
  const hasher = new DigestingStream('sha256');
  const size = BLOB_MIB * 1024 * 1024;
  await pipeline(seededBytes('ui-overhead', size), hasher, createWriteStream(blobFile));
  const digest = hasher.digest();
  console.log(`load average at start: ${loadavg().map((x) => x.toFixed(2)).join(' ')}`);

  const servers: BenchServer[] = [
    await startOurs({ label: 'ui on' }),
    await startOurs({ label: 'ui off', env: { REGISTRY_UI__ENABLED: 'false' } }),
    await startPeer(),
  ];
  const req: Record<string, number[]> = {};
  const mbps: Record<string, number[]> = {};
  try {
    for (const s of servers) {
      await pushImage(s.url, 'bench/app', '1', { seed: 'ui-overhead' });
      await pushBlobFile(s.url, 'bench/app', blobFile, size, digest);
      req[s.label] = [];
      mbps[s.label] = [];
    }
    for (let round = 0; round < ROUNDS; round++) {
      // Rotate who goes first, so a busy moment on a shared machine does not always hit the same server.
      for (const s of [...servers.slice(round % servers.length), ...servers.slice(0, round % servers.length)]) {
        const r = await manifestLoad(`${s.url}/v2/bench/app/manifests/1`, OCI_MANIFEST, SECONDS, CONNECTIONS);
        if (r.errors > 0) console.warn(`${s.label}: ${r.errors} errors`);
        req[s.label]!.push(r.perSecond);
        mbps[s.label]!.push((await blobReadMBps(s.url, 'bench/app', digest, size)).MBps);
      }
    }
    // The counts really were taken: the "ui on" server's API reports the downloads.
    const counted = (await (await fetch(`${servers[0]!.url}/api/repositories/bench/app`)).json()) as { downloads: number };
    const peer = servers[2]!.label;
    console.log(`\nmanifest GET (wrk -c${CONNECTIONS}, ${SECONDS}s) and blob GET (${BLOB_MIB} MiB), median of ${ROUNDS} rounds:`);
    for (const s of servers) {
      const r = median(req[s.label]!);
      const m = median(mbps[s.label]!);
      console.log(
        `  ${s.label.padEnd(7)} ${r.toFixed(0).padStart(7)} req/s (${(r / median(req[peer]!)).toFixed(2)}x peer)   ${m.toFixed(0).padStart(6)} MB/s (${(m / median(mbps[peer]!)).toFixed(2)}x peer)`,
      );
    }
    const on = median(req['ui on']!);
    const off = median(req['ui off']!);
    console.log(`  ui on / ui off: manifest ${(on / off).toFixed(3)}x, blob ${(median(mbps['ui on']!) / median(mbps['ui off']!)).toFixed(3)}x`);
    console.log(`  downloads counted by the "ui on" server: ${counted.downloads}`);
    console.log(`load average at end: ${loadavg().map((x) => x.toFixed(2)).join(' ')}`);
  } finally {
    for (const s of servers) await s.close();
    await rm(work, { recursive: true, force: true });
  }
}

await main();
