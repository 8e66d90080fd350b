import { createWriteStream } from 'node:fs';
import { rm } from 'node:fs/promises';
import { loadavg } from 'node:os';
import { join } from 'node:path';
import { pipeline } from 'node:stream/promises';
import { DigestingStream } from '../src/oci/digest.js';
import { seededBytes } from '../test/helpers/oci-layout.js';
import { tmpDir } from '../test/helpers/registry.js';
import { blobReadMBps, pushBlobFile } from './http-load.js';
import { startOurs, startPeer, type BenchServer } from './servers.js';

/**
 * The read-path cost of issue 10's blob verification: blob GET MB/s of
 *   - ours (default, storage.verifyBlobReads: first): the first whole read hashes inline, later ones do not;
 *   - ours with storage.verifyBlobReads: always: every whole read hashes inline (the worst case);
 *   - the peer (Distribution 2.8), which never verifies what it serves;
 * in one run, reads alternating between the servers, median of BENCH_BLOB_ROUNDS (5). The scrub is off
 * on ours so background hashing does not share the cores. `npm run bench:verify`.
 */

const MiB = 1024 * 1024;
const SIZE = Number(process.env.BENCH_BIG_MIB ?? 200) * MiB;
const ROUNDS = Number(process.env.BENCH_BLOB_ROUNDS ?? 5);
const median = (xs: number[]): number => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;

async function main(): Promise<void> {
  console.log(`load average at start: ${loadavg().map((l) => l.toFixed(2)).join(' ')}`);
  const dir = await tmpDir('bench-verify-');
  const file = join(dir, 'blob');
  const hasher = new DigestingStream('sha256');
  await pipeline(seededBytes('verify', SIZE), hasher, createWriteStream(file));
  const digest = hasher.digest();
  const noScrub = { REGISTRY_STORAGE__SCRUB_BYTES_PER_SECOND: '0' };
  const servers: BenchServer[] = [
    await startOurs({ label: 'ours (verify first read)', env: noScrub }),
    await startOurs({ label: 'ours (verify every read)', env: { ...noScrub, REGISTRY_STORAGE__VERIFY_BLOB_READS: 'always' } }),
    await startPeer(),
  ];
  try {
    for (const s of servers) await pushBlobFile(s.url, 'bench/verify', file, SIZE, digest);
    // The default server's first read is the verifying one; every later read takes the plain path.
    const first = await blobReadMBps(servers[0]!.url, 'bench/verify', digest, SIZE);
    const samples = servers.map(() => [] as number[]);
    let tool = first.tool;
    for (let round = 0; round < ROUNDS; round++) {
      for (const [i, s] of servers.entries()) {
        const r = await blobReadMBps(s.url, 'bench/verify', digest, SIZE);
        samples[i]!.push(r.MBps);
        tool = r.tool;
      }
    }
    const peer = median(samples[2]!);
    console.log(`\nblob GET ${SIZE / MiB} MiB (${tool}), median of ${ROUNDS}, MB/s (ratio to peer):`);
    console.log(`  ours, first read after start (verified inline): ${first.MBps.toFixed(0)} (${(first.MBps / peer).toFixed(2)}x)`);
    for (const [i, s] of servers.entries()) {
      const m = median(samples[i]!);
      console.log(`  ${s.label}: ${m.toFixed(0)} (${(m / peer).toFixed(2)}x)   samples ${samples[i]!.map((x) => x.toFixed(0)).join(' ')}`);
    }
    const plain = median(samples[0]!);
    const always = median(samples[1]!);
    console.log(`  verification cost on a read: ${(((plain - always) / plain) * 100).toFixed(1)}% (every read) vs 0% (default, after the first read)`);
  } finally {
    for (const s of servers) await s.close();
    await rm(dir, { recursive: true, force: true });
    console.log(`load average at end: ${loadavg().map((l) => l.toFixed(2)).join(' ')}`);
  }
}

await main();
