import { spawn, type ChildProcess } from 'node:child_process';
import { mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { mustRun, runTool, stopChild, type RunOptions, type ToolResult } from './run-tool.js';

/** Debian's docker.io binaries (dockerd 20.10 and its CLI); override for another install. */
export const DOCKERD_BIN = process.env.DOCKERD_BIN ?? '/usr/sbin/dockerd';
export const DOCKER_BIN = process.env.DOCKER_BIN ?? '/usr/bin/docker';

export interface RunningDockerd {
  /** unix:///…/d.sock */
  host: string;
  dir: string;
  /** Runs the docker CLI against this daemon only, with a private DOCKER_CONFIG (credentials of `docker login`). */
  docker(args: readonly string[], o?: Pick<RunOptions, 'input' | 'timeoutMs'>): Promise<ToolResult>;
  /** Like docker(), but throws with the daemon's log tail when the command fails. */
  mustDocker(args: readonly string[], o?: Pick<RunOptions, 'input' | 'timeoutMs'>): Promise<ToolResult>;
  /** The daemon's recent log (its errors explain a failed pull better than the CLI does). */
  output(): string;
  close(): Promise<void>;
}

/**
 * A private Docker daemon for one test file: its own socket, data root, exec root, pid file, daemon.json
 * and client config, all in one short temp folder (unix socket paths are limited to 107 bytes). Storage
 * driver vfs, no iptables, bridge or IP forwarding, so it needs no kernel setup and leaves the host's
 * network alone. It never touches a system daemon, /etc/docker or ~/.docker: `deprecated-key-path` keeps
 * dockerd 20.10 from writing its key into /etc/docker. `daemonJson` is merged into daemon.json (e.g.
 * `registry-mirrors`, `insecure-registries`), the way a user configures Docker.
 *
 * Pull, push, tag, inspect and rmi need no container run. Start one per test file: a start costs seconds.
 */
export async function startDockerd(daemonJson: Record<string, unknown> = {}): Promise<RunningDockerd> {
  const dir = await mkdtemp(join(tmpdir(), 'dkd-'));
  const socket = join(dir, 'd.sock');
  const host = `unix://${socket}`;
  const dataRoot = join(dir, 'data');
  const clientConfig = join(dir, 'client');
  await mkdir(clientConfig);
  // An empty client config: no credential helper of the machine's user is consulted.
  await writeFile(join(clientConfig, 'config.json'), '{}');
  const configFile = join(dir, 'daemon.json');
  await writeFile(configFile, JSON.stringify({ 'deprecated-key-path': join(dir, 'key.json'), ...daemonJson }, null, 2));
  const args = [
    '--config-file', configFile,
    '--data-root', dataRoot,
    '--exec-root', join(dir, 'x'),
    '--pidfile', join(dir, 'pid'),
    '-H', host,
    '--storage-driver', 'vfs',
    '--iptables=false', '--ip6tables=false', '--ip-forward=false', '--ip-masq=false',
    '--bridge=none', '--userland-proxy=false',
  ];
  const child: ChildProcess = spawn(DOCKERD_BIN, args, { stdio: ['ignore', 'pipe', 'pipe'], env: { ...process.env, DOCKER_CONFIG: clientConfig } });
  let out = '';
  const collect = (b: Buffer) => {
    out = (out + b.toString()).slice(-40_000);
  };
  child.stdout?.on('data', collect);
  child.stderr?.on('data', collect);
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  const env: NodeJS.ProcessEnv = { ...process.env, DOCKER_CONFIG: clientConfig, DOCKER_HOST: host };
  delete env.DOCKER_CONTEXT;
  delete env.DOCKER_TLS_VERIFY;
  delete env.DOCKER_CERT_PATH;
  const docker = (a: readonly string[], o: Pick<RunOptions, 'input' | 'timeoutMs'> = {}) => runTool(DOCKER_BIN, ['-H', host, ...a], { env, timeoutMs: 180_000, ...o });

  const stop = async () => {
    await stopChild(child, exited, 20_000);
    // dockerd bind-mounts its data root onto itself; a daemon that did not finish its shutdown leaves it.
    if ((await readFile('/proc/self/mounts', 'utf8').catch(() => '')).includes(dataRoot)) await runTool('umount', ['-l', dataRoot]).catch(() => undefined);
    await rm(dir, { recursive: true, force: true }).catch(() => undefined);
  };
  const deadline = Date.now() + 60_000;
  for (;;) {
    if (child.exitCode !== null || child.signalCode !== null) {
      await stop();
      throw new Error(`dockerd exited at start:\n${out}`);
    }
    if ((await docker(['info', '--format', '{{.ServerVersion}}'], { timeoutMs: 10_000 })).code === 0) break;
    if (Date.now() > deadline) {
      await stop();
      throw new Error(`dockerd did not come up:\n${out}`);
    }
    await new Promise((r) => setTimeout(r, 200));
  }
  return {
    host,
    dir,
    docker,
    async mustDocker(a, o) {
      try {
        return await mustRun(DOCKER_BIN, ['-H', host, ...a], { env, timeoutMs: 180_000, ...o });
      } catch (err) {
        throw new Error(`${(err as Error).message}\n--- dockerd log (tail) ---\n${out.slice(-6000)}`);
      }
    },
    output: () => out,
    close: stop,
  };
}
