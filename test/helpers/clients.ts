import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import type { Server } from 'node:http';
import { mustRun, type ToolResult } from './run-tool.js';

/** Real clients (skopeo, podman) with private configuration, run through mustRun (so a failure throws CommandError). */

/**
 * skopeo with its own policy (accept anything) and an empty registries.conf, so the machine's
 * /etc/containers files cannot change what the test sees. skopeo 1.9 ignores CONTAINERS_REGISTRIES_CONF;
 * `--registries-conf` is its (hidden) global flag for the same thing.
 */
export class Skopeo {
  private constructor(private readonly dir: string) {}

  static async create(): Promise<Skopeo> {
    const dir = await mkdtemp('/tmp/skopeo-');
    await writeFile(join(dir, 'policy.json'), JSON.stringify({ default: [{ type: 'insecureAcceptAnything' }] }));
    await writeFile(join(dir, 'registries.conf'), 'unqualified-search-registries = []\n');
    return new Skopeo(dir);
  }

  run(args: readonly string[], timeoutMs?: number): Promise<ToolResult> {
    return mustRun('skopeo', ['--policy', join(this.dir, 'policy.json'), '--registries-conf', join(this.dir, 'registries.conf'), ...args], { timeoutMs });
  }

  async json<T>(args: readonly string[]): Promise<T> {
    return JSON.parse((await this.run(args)).stdout) as T;
  }

  async close(): Promise<void> {
    await rm(this.dir, { recursive: true, force: true });
  }
}

/**
 * podman with private storage: its own --root, a --runroot short enough for podman's socket paths
 * (< 50 chars, hence directly under /tmp), --tmpdir, the vfs driver (no overlay mounts needed) and file events.
 */
export class Podman {
  private constructor(private readonly dir: string) {}

  static async create(): Promise<Podman> {
    const dir = await mkdtemp('/tmp/pm-');
    await writeFile(join(dir, 'registries.conf'), 'unqualified-search-registries = []\n');
    await writeFile(join(dir, 'policy.json'), JSON.stringify({ default: [{ type: 'insecureAcceptAnything' }] }));
    return new Podman(dir);
  }

  run(args: readonly string[], timeoutMs?: number): Promise<ToolResult> {
    const global = [
      '--root', join(this.dir, 'root'),
      '--runroot', join(this.dir, 'run'),
      '--tmpdir', join(this.dir, 'tmp'),
      '--storage-driver', 'vfs',
      '--events-backend', 'file',
      '--cgroup-manager', 'cgroupfs',
    ];
    const env = { ...process.env, CONTAINERS_REGISTRIES_CONF: join(this.dir, 'registries.conf') };
    return mustRun('podman', [...global, ...args], { timeoutMs, env });
  }

  policyPath(): string {
    return join(this.dir, 'policy.json');
  }

  async close(): Promise<void> {
    // vfs layers may be read-only copies; podman's own reset would also work but needs the same flags.
    await rm(this.dir, { recursive: true, force: true });
  }
}

export interface LoggedRequest {
  method: string;
  url: string;
  status: number;
}

/** Records every request a test server answers, to prove what a client did (e.g. mount instead of upload). */
export function recordRequests(server: Server): LoggedRequest[] {
  const log: LoggedRequest[] = [];
  server.on('request', (req, res) => {
    res.on('finish', () => log.push({ method: req.method ?? '', url: req.url ?? '', status: res.statusCode }));
  });
  return log;
}

/**
 * Files in `work` that make skopeo and podman use `mirrorHost` as docker.io's mirror: a registries.conf and an empty
 * auth file, with the environment that points at them (skopeo takes the conf by `--registries-conf`, podman by env).
 */
export async function dockerHubMirrorConf(
  work: string,
  mirrorHost: string,
  o: { unqualifiedSearch?: boolean } = {},
): Promise<{ conf: string; env: NodeJS.ProcessEnv }> {
  const conf = join(work, 'registries.conf');
  const lines = ['[[registry]]', 'prefix = "docker.io"', 'location = "docker.io"', '[[registry.mirror]]', `location = "${mirrorHost}"`, 'insecure = true', ''];
  if (o.unqualifiedSearch) lines.unshift('unqualified-search-registries = ["docker.io"]');
  await writeFile(conf, lines.join('\n'));
  const authFile = join(work, 'auth.json');
  await writeFile(authFile, '{"auths":{}}');
  return { conf, env: { ...process.env, CONTAINERS_REGISTRIES_CONF: conf, REGISTRY_AUTH_FILE: authFile, HOME: work } };
}
