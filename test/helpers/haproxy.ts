import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { freePort } from './distribution.js';
import { stopChild } from './run-tool.js';

export interface RunningHaproxy {
  url: string;
  host: string;
  port: number;
  stop(): Promise<void>;
}

/**
 * The load-balancer part of an haproxy config for registry replicas (the README shows the same shape):
 * round-robin, HTTP health checks on /healthz, long timeouts for big blobs, a retry on another server
 * when a connection to one fails. `backends` are host:port.
 */
export function haproxyConfig(port: number, backends: readonly string[], healthPath = '/healthz'): string {
  return [
    'global',
    '  maxconn 4096',
    'defaults',
    '  mode http',
    '  option http-server-close',
    '  timeout connect 2s',
    '  timeout client 300s',
    '  timeout server 300s',
    '  retries 2',
    '  option redispatch',
    'frontend registry',
    `  bind 127.0.0.1:${port}`,
    '  default_backend replicas',
    'backend replicas',
    '  balance roundrobin',
    `  option httpchk GET ${healthPath}`,
    ...backends.map((b, i) => `  server r${i} ${b} check inter 500ms fall 2 rise 1`),
    '',
  ].join('\n');
}

/** Debian's haproxy in front of `backends`, in the foreground (-db) on a free loopback port. */
/** `healthPath`: what haproxy checks on each backend (docker-registry has no /healthz: use /v2/). */
export async function startHaproxy(backends: readonly string[], healthPath = '/healthz'): Promise<RunningHaproxy> {
  const port = await freePort();
  const dir = await mkdtemp(join(tmpdir(), 'haproxy-'));
  const cfg = join(dir, 'haproxy.cfg');
  await writeFile(cfg, haproxyConfig(port, backends, healthPath));
  const child = spawn('haproxy', ['-db', '-f', cfg], { stdio: ['ignore', 'ignore', 'pipe'] });
  let stderr = '';
  child.stderr!.on('data', (c: Buffer) => (stderr += c.toString('utf8')));
  const exited = once(child, 'exit');
  const url = `http://127.0.0.1:${port}`;
  const deadline = Date.now() + 10_000;
  for (;;) {
    if (child.exitCode !== null) throw new Error(`haproxy exited: ${stderr}`);
    const ok = await fetch(`${url}${healthPath}`).then((r) => r.ok, () => false);
    if (ok) break;
    if (Date.now() > deadline) throw new Error(`haproxy did not answer: ${stderr}`);
    await sleep(100);
  }
  return {
    url,
    host: `127.0.0.1:${port}`,
    port,
    async stop() {
      await stopChild(child, exited);
      await rm(dir, { recursive: true, force: true });
    },
  };
}
