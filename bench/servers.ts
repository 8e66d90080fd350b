import { spawn } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { readFile, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { DISTRIBUTION_BIN, freePort, startDistribution } from '../test/helpers/distribution.js';
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

export interface OursOptions {
  /** YAML config file contents (e.g. upstreams for the mirror bench); env still applies on top. */
  configYaml?: string;
  /** Extra environment (REGISTRY_* keys). */
  env?: Record<string, string>;
  label?: string;
}

/**
 * Our built server (dist/main.js) as a child process, configured the way a user would: env (and a config
 * file when given). BENCH_WORKERS sets server.workers (default 1: one process, whose memory /proc shows
 * whole); BENCH_NODE_FLAGS adds node flags (e.g. --cpu-prof for a profile of the run).
 */
export async function startOurs(options: OursOptions = {}): Promise<BenchServer> {
  const dataDir = await tmpDir('bench-ours-');
  const port = await freePort();
  const args = [...nodeFlags(), join(ROOT, 'dist', 'main.js')];
  if (options.configYaml !== undefined) {
    const configPath = join(dataDir, 'bench-config.yaml');
    await writeFile(configPath, options.configYaml);
    args.push('--config', configPath);
  }
  const child = spawn(process.execPath, args, {
    // Request logs off on both sides (the peer's access log is disabled too): we measure serving, not logging.
    env: {
      ...process.env,
      PORT: String(port),
      HOST: '127.0.0.1',
      DATA_DIR: join(dataDir, 'data'),
      LOG_LEVEL: process.env.BENCH_LOG_LEVEL ?? 'warn',
      ...workersEnv(),
      ...options.env,
    },
    stdio: ['ignore', 'inherit', 'inherit'],
  });
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  const url = `http://127.0.0.1:${port}`;
  await waitUp(url, () => child.exitCode !== null);
  return {
    label: options.label ?? 'ours',
    url,
    host: `127.0.0.1:${port}`,
    pid: child.pid!,
    async close() {
      await stopChild(child, exited, 10_000);
      await rm(dataDir, { recursive: true, force: true });
    },
  };
}

/** server.workers from BENCH_WORKERS (default 1); an empty BENCH_WORKERS leaves the server's own default. */
function workersEnv(): Record<string, string> {
  const workers = process.env.BENCH_WORKERS ?? '1';
  return workers === '' ? {} : { REGISTRY_SERVER__WORKERS: workers };
}

/** Node flags for our server: what `npm start` uses, then BENCH_NODE_FLAGS (space-separated). */
export function nodeFlags(): string[] {
  return [...startFlags(), ...(process.env.BENCH_NODE_FLAGS ?? '').split(' ').filter((f) => f.length > 0)];
}

/** The node flags of package.json's start script (`node <flags> dist/main.js`), so the benches run the server as users do. */
export function startFlags(): string[] {
  const pkg = JSON.parse(readFileSync(join(ROOT, 'package.json'), 'utf8')) as { scripts: Record<string, string> };
  const m = /\bnode((?:\s+--\S+)*)\s+dist\/main\.js/.exec(pkg.scripts.start ?? '');
  return m ? m[1]!.trim().split(/\s+/).filter((f) => f.length > 0) : [];
}

export async function startPeer(): Promise<BenchServer> {
  const d = await startDistribution({ logLevel: 'error' });
  return { label: 'peer', url: d.url, host: d.host, pid: d.pid, close: () => d.close() };
}

/** docker-registry in proxy mode (its pull-through cache) in front of `upstreamUrl`: the peer of our mirror. */
export async function startPeerProxy(upstreamUrl: string): Promise<BenchServer> {
  const dir = await tmpDir('bench-peer-proxy-');
  const port = await freePort();
  const configPath = join(dir, 'config.yml');
  await writeFile(
    configPath,
    [
      'version: 0.1',
      'log:', '  level: error', '  accesslog:', '    disabled: true',
      'storage:', '  filesystem:', `    rootdirectory: ${JSON.stringify(join(dir, 'data'))}`,
      '  cache:', '    blobdescriptor: inmemory',
      'http:', `  addr: 127.0.0.1:${port}`, '  secret: bench-secret-not-for-production',
      'proxy:', `  remoteurl: ${upstreamUrl}`, '',
    ].join('\n'),
  );
  const child = spawn(DISTRIBUTION_BIN, ['serve', configPath], { stdio: ['ignore', 'ignore', 'inherit'] });
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  const url = `http://127.0.0.1:${port}`;
  await waitUp(url, () => child.exitCode !== null);
  return {
    label: 'peer-proxy',
    url,
    host: `127.0.0.1:${port}`,
    pid: child.pid!,
    async close() {
      await stopChild(child, exited, 10_000);
      await rm(dir, { recursive: true, force: true });
    },
  };
}

/** Polls GET /v2/ until it answers 200 (30 s at most); `dead` says the server's process already exited. */
export async function waitUp(url: string, dead: () => boolean): Promise<void> {
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

/** CPU seconds (user + system) a process has used so far, from /proc/<pid>/stat (clock ticks of 1/100 s). */
export async function cpuSeconds(pid: number): Promise<number> {
  const fields = (await readFile(`/proc/${pid}/stat`, 'utf8')).split(') ')[1]!.split(' ');
  return (Number(fields[11]) + Number(fields[12])) / 100;
}

/** CPU seconds every core of the machine has spent busy so far (/proc/stat: user, nice, system, irq, softirq). */
export async function machineBusySeconds(): Promise<number> {
  const cpu = (await readFile('/proc/stat', 'utf8')).split('\n')[0]!.split(/\s+/).slice(1).map(Number);
  return (cpu[0]! + cpu[1]! + cpu[2]! + cpu[5]! + cpu[6]!) / 100;
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
