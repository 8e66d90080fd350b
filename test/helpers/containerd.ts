import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { runTool, stopChild } from './run-tool.js';

export interface RunningContainerd {
  address: string;
  dir: string;
  ctr(args: readonly string[]): Promise<{ code: number | null; stdout: string; stderr: string }>;
  output(): string;
  close(): Promise<void>;
}

/**
 * A private containerd as a background process: its own root, state and gRPC socket in a short temp
 * folder (unix socket paths are limited to 108 bytes), CRI disabled so it needs no CNI or cgroups setup.
 */
export async function startContainerd(): Promise<RunningContainerd> {
  const dir = await mkdtemp(join(tmpdir(), 'ctd-'));
  const address = join(dir, 'c.sock');
  const config = join(dir, 'config.toml');
  await writeFile(
    config,
    [
      'version = 2',
      `root = "${join(dir, 'root')}"`,
      `state = "${join(dir, 'state')}"`,
      'disabled_plugins = ["io.containerd.grpc.v1.cri"]',
      '[grpc]',
      `  address = "${address}"`,
      '[ttrpc]',
      `  address = "${address}.ttrpc"`,
      '',
    ].join('\n'),
  );
  const child: ChildProcess = spawn('containerd', ['--config', config, '--log-level', 'warn'], { stdio: ['ignore', 'pipe', 'pipe'] });
  let out = '';
  const collect = (b: Buffer) => {
    out = (out + b.toString()).slice(-20_000);
  };
  child.stdout?.on('data', collect);
  child.stderr?.on('data', collect);
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  const ctr = (args: readonly string[]) => runTool('ctr', ['--address', address, ...args], { timeoutMs: 180_000 });
  const deadline = Date.now() + 20_000;
  for (;;) {
    if (child.exitCode !== null) throw new Error(`containerd exited: ${out}`);
    if ((await ctr(['version'])).code === 0) break;
    if (Date.now() > deadline) {
      child.kill('SIGKILL');
      throw new Error(`containerd did not come up: ${out}`);
    }
    await new Promise((r) => setTimeout(r, 100));
  }
  return {
    address,
    dir,
    ctr,
    output: () => out,
    async close() {
      await stopChild(child, exited);
      await rm(dir, { recursive: true, force: true });
    },
  };
}
