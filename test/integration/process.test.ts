import { spawn, type ChildProcess } from 'node:child_process';
import { randomBytes, createHash } from 'node:crypto';
import { access, readFile, readdir, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, afterEach, describe, expect, it } from 'vitest';
import { blobPath, listFiles } from '../helpers/push.js';
import { tmpDir } from '../helpers/registry.js';

const ROOT = fileURLToPath(new URL('../../', import.meta.url));

interface Started {
  child: ChildProcess;
  port: number;
  url: string;
  lines: Array<Record<string, unknown>>;
  stderr: () => string;
  exited: Promise<number | null>;
}

/** The environment without any REGISTRY_* the test runner may carry, plus ours. */
function cleanEnv(extra: Record<string, string>): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = {};
  for (const [k, v] of Object.entries(process.env)) {
    if (!k.startsWith('REGISTRY_') && !['PORT', 'HOST', 'DATA_DIR', 'LOG_LEVEL', 'REDIS_URL'].includes(k)) env[k] = v;
  }
  return { ...env, ...extra };
}

function spawnRegistry(env: Record<string, string>, args: string[] = []): Omit<Started, 'port' | 'url'> {
  const child = spawn(process.execPath, ['--import', 'tsx', 'src/main.ts', ...args], { cwd: ROOT, env: cleanEnv(env), stdio: ['ignore', 'pipe', 'pipe'] });
  children.push(child);
  const lines: Array<Record<string, unknown>> = [];
  let out = '';
  let err = '';
  child.stdout!.on('data', (c: Buffer) => {
    out += c.toString('utf8');
    let nl: number;
    while ((nl = out.indexOf('\n')) >= 0) {
      const line = out.slice(0, nl);
      out = out.slice(nl + 1);
      try {
        lines.push(JSON.parse(line) as Record<string, unknown>);
      } catch {
        lines.push({ unparsed: line });
      }
    }
  });
  child.stderr!.on('data', (c: Buffer) => (err += c.toString('utf8')));
  const exited = new Promise<number | null>((resolve) => child.on('exit', (code) => resolve(code)));
  return { child, lines, stderr: () => err, exited };
}

async function startProcess(env: Record<string, string>): Promise<Started> {
  const s = spawnRegistry({ HOST: '127.0.0.1', PORT: '0', ...env });
  const deadline = Date.now() + 30_000;
  for (;;) {
    const listening = s.lines.find((l) => typeof l.port === 'number' && (l.port as number) > 0);
    if (listening) {
      const port = listening.port as number;
      return { ...s, port, url: `http://127.0.0.1:${port}` };
    }
    if (s.child.exitCode !== null) throw new Error(`registry exited early: ${s.stderr()}`);
    if (Date.now() > deadline) throw new Error(`registry did not log its port: ${JSON.stringify(s.lines)} ${s.stderr()}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

function withTimeout<T>(p: Promise<T>, ms: number, what: string): Promise<T> {
  return Promise.race([p, new Promise<T>((_r, reject) => setTimeout(() => reject(new Error(`timed out: ${what}`)), ms))]);
}

const children: ChildProcess[] = [];
const dirs: string[] = [];

afterEach(() => {
  for (const c of children.splice(0)) if (c.exitCode === null && c.signalCode === null) c.kill('SIGKILL');
});
afterAll(async () => {
  for (const d of dirs) await rm(d, { recursive: true, force: true });
});

async function freshParent(): Promise<string> {
  const d = await tmpDir('proc-');
  dirs.push(d);
  return d;
}

describe('the real entry point (node --import tsx src/main.ts)', () => {
  it('PORT=0: logs the chosen port as JSON, creates a fresh data folder, answers /healthz and /v2/, stops on SIGTERM', async () => {
    const dataDir = join(await freshParent(), 'fresh', 'data');
    const reg = await startProcess({ DATA_DIR: dataDir });
    const listening = reg.lines.find((l) => typeof l.port === 'number')!;
    expect(listening.level).toBe('info');
    expect(listening.port).toBe(reg.port);
    expect(reg.port).toBeGreaterThan(0);
    await access(join(dataDir, 'blobs'));

    const health = await fetch(`${reg.url}/healthz`);
    expect(health.status).toBe(200);
    const base = await fetch(`${reg.url}/v2/`);
    expect(base.status).toBe(200);
    expect(base.headers.get('docker-distribution-api-version')).toBe('registry/2.0');
    // One JSON line per request, with the route pattern, never the raw name.
    await new Promise((r) => setTimeout(r, 100));
    expect(reg.lines.some((l) => l.msg === 'request' && l.route === '/v2/' && l.status === 200)).toBe(true);

    // A refused, still-streaming request must not take the process down (it once did, from the request log).
    let sent = 0;
    const big = new ReadableStream<Uint8Array>({
      pull(controller) {
        if (sent++ === 80) return controller.close();
        controller.enqueue(Buffer.alloc(64 * 1024, 0x20));
      },
    });
    const refused = await fetch(`${reg.url}/v2/app/manifests/big`, { method: 'PUT', body: big, duplex: 'half' } as RequestInit & { duplex: 'half' });
    expect(refused.status).toBe(413);
    await new Promise((r) => setTimeout(r, 200));
    expect((await fetch(`${reg.url}/healthz`)).status).toBe(200);
    expect(reg.child.exitCode).toBeNull();

    reg.child.kill('SIGTERM');
    expect(await withTimeout(reg.exited, 15_000, 'exit after SIGTERM')).toBe(0);
  });

  it.each([
    ['REGISTRY_SERVER__PORT=abc', { REGISTRY_SERVER__PORT: 'abc' }, 'server.port'],
    ['PORT=abc', { PORT: 'abc' }, 'server.port'],
    ['an unknown REGISTRY_ key', { REGISTRY_STORAGE__NOT_A_KEY: '1' }, 'storage.notAKey'],
  ])('invalid config from the environment (%s) exits non-zero naming the key', async (_label, env, key) => {
    const s = spawnRegistry({ HOST: '127.0.0.1', PORT: '0', DATA_DIR: join(await freshParent(), 'data'), ...env });
    expect(await withTimeout(s.exited, 30_000, 'exit')).not.toBe(0);
    expect(s.stderr()).toContain(key);
    expect(s.lines.some((l) => typeof l.port === 'number')).toBe(false);
  });

  it.each([['--config'], ['REGISTRY_CONFIG']])('an unknown key in a YAML file given by %s exits non-zero naming the key', async (how) => {
    const parent = await freshParent();
    const file = join(parent, 'bad.yaml');
    await writeFile(file, 'server:\n  host: 127.0.0.1\nstorage:\n  dataDir: ./x\n  deleteEnabeld: false\n');
    const s = how === '--config' ? spawnRegistry({ PORT: '0' }, ['--config', file]) : spawnRegistry({ PORT: '0', REGISTRY_CONFIG: file });
    expect(await withTimeout(s.exited, 30_000, 'exit')).not.toBe(0);
    expect(s.stderr()).toContain('storage.deleteEnabeld');
  });

  it('SIGTERM while a slow upload is in flight: the request finishes, the blob is complete, then the process exits', async () => {
    const dataDir = join(await freshParent(), 'data');
    const reg = await startProcess({ DATA_DIR: dataDir, REGISTRY_SERVER__SHUTDOWN_TIMEOUT_SECONDS: '60' });
    const data = randomBytes(2 * 1024 * 1024);
    const digest = `sha256:${createHash('sha256').update(data).digest('hex')}`;
    const start = await fetch(`${reg.url}/v2/slow/app/blobs/uploads/`, { method: 'POST' });
    expect(start.status).toBe(202);
    const location = new URL(start.headers.get('location')!, reg.url);
    location.searchParams.set('digest', digest);

    const CHUNKS = 16;
    const size = data.length / CHUNKS;
    let sent = 0;
    let signalled!: () => void;
    const signalSent = new Promise<void>((r) => (signalled = r));
    const body = new ReadableStream<Uint8Array>({
      async pull(controller) {
        if (sent === CHUNKS) return controller.close();
        if (sent === 4) {
          reg.child.kill('SIGTERM');
          signalled();
        }
        await new Promise((r) => setTimeout(r, 100));
        controller.enqueue(data.subarray(sent * size, (sent + 1) * size));
        sent++;
      },
    });
    const put = fetch(location, { method: 'PUT', body, duplex: 'half' } as RequestInit & { duplex: 'half' });

    await signalSent;
    // Wait until the process has acted on the signal (its log says so), not for a guessed delay.
    for (const until = Date.now() + 10_000; !reg.lines.some((l) => String(l.msg).startsWith('shutting down')); ) {
      if (Date.now() > until) throw new Error('no shutdown log line after SIGTERM');
      await new Promise((r) => setTimeout(r, 20));
    }
    // Draining: nothing half-visible yet, and no new connections accepted.
    await expect(access(blobPath(dataDir, digest))).rejects.toThrow();
    await expect(fetch(`${reg.url}/healthz`, { headers: { Connection: 'close' } })).rejects.toThrow();

    const res = await put;
    expect(res.status).toBe(201);
    expect(res.headers.get('docker-content-digest')).toBe(digest);
    expect(await withTimeout(reg.exited, 20_000, 'exit after the drained upload')).toBe(0);
    expect(reg.lines.some((l) => l.msg === 'stopped')).toBe(true);

    expect(await readFile(blobPath(dataDir, digest))).toEqual(data);
    expect(await readdir(join(dataDir, 'tmp'))).toEqual([]);
    expect(await readdir(join(dataDir, 'uploads'))).toEqual([]);
    expect((await listFiles(join(dataDir, 'blobs'))).length).toBe(1);
  });

  it('memory stays flat in blob size: a 1 GiB blob pushes and pulls with peak RSS under 200 MB', async () => {
    const dataDir = join(await freshParent(), 'data');
    // One process that serves: with several workers /proc/<pid> would be the cluster primary, which serves nothing.
    const reg = await startProcess({ DATA_DIR: dataDir, REGISTRY_SERVER__WORKERS: '1' });
    const block = randomBytes(1024 * 1024);
    const BLOCKS = 1024;
    const hash = createHash('sha256');
    for (let i = 0; i < BLOCKS; i++) hash.update(block);
    const digest = `sha256:${hash.digest('hex')}`;
    let i = 0;
    const body = new ReadableStream<Uint8Array>({
      pull(controller) {
        if (i++ === BLOCKS) controller.close();
        else controller.enqueue(block);
      },
    });
    const put = await fetch(`${reg.url}/v2/big/blobs/uploads/?digest=${digest}`, { method: 'POST', body, duplex: 'half' } as RequestInit & { duplex: 'half' });
    expect(put.status).toBe(201);

    const got = await fetch(`${reg.url}/v2/big/blobs/${digest}`);
    expect(got.status).toBe(200);
    expect(got.headers.get('content-length')).toBe(String(BLOCKS * block.length));
    const check = createHash('sha256');
    for await (const chunk of got.body!) check.update(chunk);
    expect(`sha256:${check.digest('hex')}`).toBe(digest);

    // VmHWM: the process's peak resident set over its whole life.
    const status = await readFile(`/proc/${reg.child.pid}/status`, 'utf8');
    const peakKb = Number(/VmHWM:\s+(\d+) kB/.exec(status)?.[1]);
    expect(peakKb).toBeGreaterThan(0);
    expect(peakKb / 1024).toBeLessThan(200);
    reg.child.kill('SIGTERM');
    expect(await withTimeout(reg.exited, 15_000, 'exit')).toBe(0);
  }, 120_000);
});
