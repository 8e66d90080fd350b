import { spawn } from 'node:child_process';
import { readFile, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { freePort, startDistribution } from '../test/helpers/distribution.js';
import { tmpDir } from '../test/helpers/registry.js';
import { stopChild } from '../test/helpers/run-tool.js';

/** A registry under test, as a separate process so its memory can be read from /proc. */
export interface BenchServer {
  label: string;
  url: string;
  host: string;
  pid: number;
  close(): Promise<void>;
}

const ROOT = new URL('..', import.meta.url).pathname;

/** Our built server (dist/main.js) as a child process, configured the way a user would: env only. */
export async function startOurs(): Promise<BenchServer> {
  const dataDir = await tmpDir('bench-ours-');
  const port = await freePort();
  const child = spawn(process.execPath, [join(ROOT, 'dist', 'main.js')], {
    // Request logs off on both sides (the peer's access log is disabled too): we measure serving, not logging.
    env: { ...process.env, PORT: String(port), HOST: '127.0.0.1', DATA_DIR: dataDir, LOG_LEVEL: process.env.BENCH_LOG_LEVEL ?? 'warn' },
    stdio: ['ignore', 'inherit', 'inherit'],
  });
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  const url = `http://127.0.0.1:${port}`;
  await waitUp(url, () => child.exitCode !== null);
  return {
    label: 'ours',
    url,
    host: `127.0.0.1:${port}`,
    pid: child.pid!,
    async close() {
      await stopChild(child, exited, 10_000);
      await rm(dataDir, { recursive: true, force: true });
    },
  };
}

export async function startPeer(): Promise<BenchServer> {
  const d = await startDistribution({ logLevel: 'error' });
  return { label: 'peer', url: d.url, host: d.host, pid: d.pid, close: () => d.close() };
}

async function waitUp(url: string, dead: () => boolean): Promise<void> {
  const deadline = Date.now() + 30_000;
  while (Date.now() < deadline) {
    if (dead()) throw new Error(`server at ${url} exited during start`);
    try {
      const res = await fetch(`${url}/v2/`);
      await res.arrayBuffer();
      if (res.ok) return;
    } catch {
      // not yet listening
    }
    await new Promise((r) => setTimeout(r, 50));
  }
  throw new Error(`server at ${url} did not come up`);
}

/** Peak resident set (VmHWM) of a process, in bytes. */
export async function peakRss(pid: number): Promise<number> {
  return statusField(pid, 'VmHWM');
}

export async function currentRss(pid: number): Promise<number> {
  return statusField(pid, 'VmRSS');
}

/** Resets VmHWM to the current RSS (Linux ≥ 4.0: write 5 to clear_refs), so a phase's peak is its own. */
export async function resetPeakRss(pid: number): Promise<void> {
  await writeFile(`/proc/${pid}/clear_refs`, '5');
}

async function statusField(pid: number, field: string): Promise<number> {
  const status = await readFile(`/proc/${pid}/status`, 'utf8');
  const m = new RegExp(`^${field}:\\s+(\\d+) kB`, 'm').exec(status);
  if (!m) throw new Error(`${field} missing in /proc/${pid}/status`);
  return Number(m[1]) * 1024;
}

/**
 * Samples RSS while `work` runs; a second opinion next to VmHWM (and the only one for the peer's
 * child threads, which share the process's counters anyway).
 */
export async function withRssSampling<T>(pid: number, work: () => Promise<T>): Promise<{ result: T; maxSampled: number; hwm: number }> {
  await resetPeakRss(pid).catch(() => undefined);
  let maxSampled = 0;
  const timer = setInterval(() => {
    currentRss(pid).then((v) => (maxSampled = Math.max(maxSampled, v)), () => undefined);
  }, 50);
  try {
    const result = await work();
    return { result, maxSampled, hwm: await peakRss(pid) };
  } finally {
    clearInterval(timer);
  }
}
