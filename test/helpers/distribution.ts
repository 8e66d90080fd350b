import { spawn, type ChildProcess } from 'node:child_process';
import { writeFile, rm, mkdir } from 'node:fs/promises';
import { createServer } from 'node:net';
import { join } from 'node:path';
import { tmpDir } from './registry.js';
import { stopChild } from './run-tool.js';

/**
 * Debian's docker-registry (CNCF Distribution 2.8) as a child process on loopback: the peer in the
 * benchmark, the reference in conformance runs and an upstream for mirror tests.
 */

export const DISTRIBUTION_BIN = process.env.DOCKER_REGISTRY_BIN ?? '/usr/bin/docker-registry';

export interface DistributionOptions {
  /** Basic auth from an htpasswd file (bcrypt entries, as `htpasswd -Bbn` writes them). */
  htpasswd?: { path: string; realm?: string };
  /** Storage folder; a temp folder (removed on close) by default. */
  dataDir?: string;
  /** Distribution's log level; access logs stay off unless `accessLog` is set. */
  logLevel?: 'error' | 'warn' | 'info' | 'debug';
  accessLog?: boolean;
}

export interface RunningDistribution {
  url: string;
  host: string;
  port: number;
  dataDir: string;
  pid: number;
  process: ChildProcess;
  /** stderr/stdout so far, for failure messages. */
  output(): string;
  close(): Promise<void>;
}

/**
 * A loopback port that was free a moment ago, for child processes that cannot listen on 0 and report back
 * (docker-registry, redis, prometheus, the registry's own metrics port).
 */
export async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const srv = createServer();
    srv.once('error', reject);
    srv.listen(0, '127.0.0.1', () => {
      const addr = srv.address();
      const port = typeof addr === 'object' && addr ? addr.port : 0;
      srv.close(() => resolve(port));
    });
  });
}

function configYaml(port: number, dataDir: string, o: DistributionOptions): string {
  const lines = [
    'version: 0.1',
    'log:',
    `  level: ${o.logLevel ?? 'error'}`,
    '  accesslog:',
    `    disabled: ${o.accessLog ? 'false' : 'true'}`,
    'storage:',
    '  filesystem:',
    `    rootdirectory: ${JSON.stringify(dataDir)}`,
    '  delete:',
    '    enabled: true',
    '  cache:',
    '    blobdescriptor: inmemory',
    '  maintenance:',
    '    uploadpurging:',
    '      enabled: false',
    'http:',
    `  addr: 127.0.0.1:${port}`,
    // A fixed secret silences the "No HTTP secret provided" warning; only this process uses it.
    '  secret: test-secret-not-for-production',
  ];
  if (o.htpasswd) {
    lines.push('auth:', '  htpasswd:', `    realm: ${JSON.stringify(o.htpasswd.realm ?? 'test-realm')}`, `    path: ${JSON.stringify(o.htpasswd.path)}`);
  }
  return lines.join('\n') + '\n';
}

/** Starts docker-registry on a free loopback port and waits until `/v2/` answers (200, or 401 with auth). */
export async function startDistribution(options: DistributionOptions = {}): Promise<RunningDistribution> {
  const ownDir = options.dataDir === undefined;
  const dataDir = options.dataDir ?? (await tmpDir('distribution-'));
  await mkdir(dataDir, { recursive: true });
  const confDir = await tmpDir('distribution-conf-');
  let lastError: unknown;
  // The free port can be taken between probing and binding; a couple of retries cover that race.
  for (let attempt = 0; attempt < 3; attempt++) {
    const port = await freePort();
    const configPath = join(confDir, 'config.yml');
    await writeFile(configPath, configYaml(port, dataDir, options));
    const env = { ...process.env };
    // docker-registry's S3 driver crashes on AWS_CA_BUNDLE; harmless to drop for filesystem storage too.
    delete env.AWS_CA_BUNDLE;
    const child = spawn(DISTRIBUTION_BIN, ['serve', configPath], { env, stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    const collect = (b: Buffer) => {
      out = (out + b.toString()).slice(-20_000);
    };
    child.stdout.on('data', collect);
    child.stderr.on('data', collect);
    const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
    try {
      await waitReady(`http://127.0.0.1:${port}`, exited);
    } catch (err) {
      lastError = new Error(`docker-registry did not start: ${(err as Error).message}\n${out}`);
      child.kill('SIGKILL');
      await exited;
      continue;
    }
    const url = `http://127.0.0.1:${port}`;
    // A test process that dies without calling close() must not leave a registry running behind it.
    const killOnExit = () => child.kill('SIGKILL');
    process.once('exit', killOnExit);
    return {
      url,
      host: `127.0.0.1:${port}`,
      port,
      dataDir,
      pid: child.pid!,
      process: child,
      output: () => out,
      async close() {
        process.off('exit', killOnExit);
        await stopChild(child, exited);
        await rm(confDir, { recursive: true, force: true });
        if (ownDir) await rm(dataDir, { recursive: true, force: true });
      },
    };
  }
  await rm(confDir, { recursive: true, force: true });
  if (ownDir) await rm(dataDir, { recursive: true, force: true });
  throw lastError;
}

async function waitReady(url: string, exited: Promise<number | null>): Promise<void> {
  let gone = false;
  void exited.then(() => {
    gone = true;
  });
  const deadline = Date.now() + 15_000;
  while (Date.now() < deadline) {
    if (gone) throw new Error('process exited');
    try {
      const res = await fetch(`${url}/v2/`);
      await res.arrayBuffer();
      if (res.status === 200 || res.status === 401) return;
    } catch {
      // not listening yet
    }
    await new Promise((r) => setTimeout(r, 50));
  }
  throw new Error('timed out waiting for /v2/');
}
