import { spawn, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { mkdir, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { fileURLToPath } from 'node:url';
import { freePort } from './distribution.js';
import type { FakeHub } from './fake-hub.js';
import { startHaproxy, type RunningHaproxy } from './haproxy.js';
import { startRedis, type RunningRedis } from './redis.js';
import { tmpDir } from './registry.js';
import { stopChild } from './run-tool.js';

const ROOT = fileURLToPath(new URL('../../', import.meta.url));

/** One registry process (the real entry point, src/main.ts) with a config file; can be killed and restarted. */
export class ReplicaProcess {
  private child: ChildProcess | undefined;
  private exited: Promise<unknown> = Promise.resolve();
  stderr = '';

  constructor(
    readonly host: string,
    private readonly configPath: string,
    private readonly env: Record<string, string>,
  ) {}

  get url(): string {
    return `http://${this.host}`;
  }

  async start(): Promise<void> {
    const env: NodeJS.ProcessEnv = {};
    // Nothing of the runner's own REGISTRY_* settings may leak into the replica.
    for (const [k, v] of Object.entries(process.env)) if (!k.startsWith('REGISTRY_') && !['PORT', 'HOST', 'DATA_DIR', 'LOG_LEVEL', 'REDIS_URL'].includes(k)) env[k] = v;
    const child = spawn(process.execPath, ['--import', 'tsx', 'src/main.ts', '--config', this.configPath], { cwd: ROOT, env: { ...env, ...this.env }, stdio: ['ignore', 'ignore', 'pipe'] });
    child.stderr!.on('data', (c: Buffer) => (this.stderr += c.toString('utf8')));
    this.child = child;
    this.exited = once(child, 'exit');
    // Generous: tsx compiles on start, and a busy 2-core machine makes that slow.
    const deadline = Date.now() + 120_000;
    for (;;) {
      if (child.exitCode !== null) throw new Error(`replica exited: ${this.stderr}`);
      if (await fetch(`${this.url}/healthz`).then((r) => r.ok, () => false)) return;
      if (Date.now() > deadline) throw new Error(`replica did not start: ${this.stderr}`);
      await sleep(100);
    }
  }

  /** SIGKILL: no drain, no lease release (a crashed host). */
  async kill(): Promise<void> {
    this.child?.kill('SIGKILL');
    await this.exited;
  }

  async stop(): Promise<void> {
    if (this.child) await stopChild(this.child, this.exited);
  }

  /** SIGTERM and the exit code (null when it had to be killed). */
  async stopWithCode(): Promise<number | null> {
    await this.stop();
    return this.child?.exitCode ?? null;
  }
}

export interface Trio {
  redis: RunningRedis;
  replicas: ReplicaProcess[];
  lb: RunningHaproxy;
  /** The shared data folder (filesystem driver) of the three replicas. */
  dataDir: string;
  stop(): Promise<void>;
}

export interface TrioOptions {
  /** Merged into every replica's config (upstreams, storage driver settings…). */
  config?: Record<string, unknown>;
  env?: Record<string, string>;
  count?: number;
}

/**
 * Redis (appendonly), N replicas (default 3) sharing one store and the Redis index, and haproxy in front:
 * the "Running several replicas" setup of the README, on loopback. Start once per test file.
 */
export async function startTrio(o: TrioOptions = {}): Promise<Trio> {
  const dir = await tmpDir('trio-');
  const dataDir = join(dir, 'data');
  await mkdir(dataDir, { recursive: true });
  const redis = await startRedis({ appendonly: true });
  const replicas: ReplicaProcess[] = [];
  const extra = o.config ?? {};
  for (let i = 0; i < (o.count ?? 3); i++) {
    const port = await freePort();
    const config = {
      ...extra,
      server: { host: '127.0.0.1', port, workers: 1, ...((extra.server as object | undefined) ?? {}) },
      storage: { dataDir, ...((extra.storage as object | undefined) ?? {}) },
      log: { level: process.env.TEST_LOG_LEVEL ?? 'warn' },
      cache: { redisUrl: redis.url },
      metadata: { driver: 'redis', redisUrl: redis.url },
      coordination: { leaseSeconds: 2, ...((extra.coordination as object | undefined) ?? {}) },
    };
    const path = join(dir, `replica-${i}.yaml`);
    // JSON is YAML: the loader reads it as written.
    await writeFile(path, JSON.stringify(config, null, 2));
    replicas.push(new ReplicaProcess(`127.0.0.1:${port}`, path, o.env ?? {}));
  }
  await Promise.all(replicas.map((r) => r.start()));
  const lb = await startHaproxy(replicas.map((r) => r.host));
  return {
    redis,
    replicas,
    lb,
    dataDir,
    async stop() {
      await lb.stop();
      await Promise.allSettled(replicas.map((r) => r.stop()));
      await redis.stop();
      await rm(dir, { recursive: true, force: true });
    },
  };
}

/**
 * Downloads of blob `digest` the upstream was asked for: authorized GETs on its registry port (each
 * download starts with one; the unauthenticated first try that fetches a token is not counted).
 */
export function upstreamBlobGets(hub: FakeHub, digest: string): number {
  const hex = digest.slice(digest.indexOf(':') + 1);
  return hub.requests.filter((r) => r.server === 'hub' && r.method === 'GET' && r.path.includes(hex) && r.authorization !== undefined).length;
}
