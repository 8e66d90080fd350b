import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { freePort } from './distribution.js';
import { runTool, stopChild } from './run-tool.js';

export interface RunningRedis {
  url: string;
  port: number;
  stop(): Promise<void>;
}

/** Debian's redis-server on a free loopback port, its files in a temp folder; appendonly as production runs it. */
export async function startRedis(o: { appendonly?: boolean } = {}): Promise<RunningRedis> {
  const port = await freePort();
  const dir = await mkdtemp(join(tmpdir(), 'redis-'));
  const child = spawn(
    'redis-server',
    ['--port', String(port), '--bind', '127.0.0.1', '--dir', dir, '--save', '', '--appendonly', o.appendonly ? 'yes' : 'no'],
    { stdio: 'ignore' },
  );
  const exited = once(child, 'exit');
  const deadline = Date.now() + 10_000;
  while ((await runTool('redis-cli', ['-p', String(port), 'ping'])).stdout.trim() !== 'PONG') {
    if (Date.now() > deadline || child.exitCode !== null) throw new Error('redis-server did not start');
    await sleep(50);
  }
  return {
    url: `redis://127.0.0.1:${port}`,
    port,
    async stop() {
      await stopChild(child, exited);
      await rm(dir, { recursive: true, force: true });
    },
  };
}
