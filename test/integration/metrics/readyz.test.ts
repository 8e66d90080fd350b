import { spawn, type ChildProcess } from 'node:child_process';
import { readdir, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { pingRedis } from '../../../src/health/redis-ping.js';
import { freePort } from '../../helpers/distribution.js';
import { startRegistry, type RunningRegistry } from '../../helpers/registry.js';

const REDIS_PASSWORD = 'readyz-secret';
let redis: ChildProcess;
let redisPort: number;

beforeAll(async () => {
  redisPort = await freePort();
  redis = spawn('redis-server', ['--port', String(redisPort), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no', '--requirepass', REDIS_PASSWORD], {
    stdio: 'ignore',
  });
  const deadline = Date.now() + 10_000;
  for (;;) {
    try {
      await pingRedis(`redis://:${REDIS_PASSWORD}@127.0.0.1:${redisPort}`);
      return;
    } catch (err) {
      if (Date.now() > deadline) throw err;
      await new Promise((r) => setTimeout(r, 50));
    }
  }
});
afterAll(() => {
  redis?.kill('SIGTERM');
});

const cleanups: Array<() => Promise<void>> = [];
afterEach(async () => {
  while (cleanups.length) await cleanups.pop()!();
});
async function start(config: Record<string, unknown> = {}): Promise<RunningRegistry> {
  const reg = await startRegistry(config);
  cleanups.push(() => reg.close());
  return reg;
}
async function readyz(reg: RunningRegistry): Promise<{ status: number; body: { status: string; checks: Record<string, string> } }> {
  const res = await fetch(`${reg.url}/readyz`);
  return { status: res.status, body: (await res.json()) as { status: string; checks: Record<string, string> } };
}

describe('GET /readyz', () => {
  it('is ready when the store is writable (and leaves no file behind)', async () => {
    const reg = await start();
    expect(await readyz(reg)).toEqual({ status: 200, body: { status: 'ready', checks: { store: 'ok' } } });
    expect(await readdir(join(reg.dataDir, 'tmp'))).toEqual([]);
  });

  it('is 503 with the reason when the store cannot be written, while /healthz stays 200', async () => {
    const reg = await start();
    // Tests run as root, where chmod blocks nothing: a file where tmp/ should be breaks every write.
    const tmp = join(reg.dataDir, 'tmp');
    await rm(tmp, { recursive: true });
    await writeFile(tmp, 'not a folder');
    const { status, body } = await readyz(reg);
    expect(status).toBe(503);
    expect(body.status).toBe('not ready');
    expect(body.checks.store).toMatch(/ENOTDIR/);
    expect((await fetch(`${reg.url}/healthz`)).status).toBe(200);
    await rm(tmp);
  });

  it('checks Redis when cache.redisUrl is set: ready when it answers PONG', async () => {
    const reg = await start({ cache: { redisUrl: `redis://:${REDIS_PASSWORD}@127.0.0.1:${redisPort}` } });
    expect(await readyz(reg)).toEqual({ status: 200, body: { status: 'ready', checks: { store: 'ok', redis: 'ok' } } });
  });

  it('is 503 when Redis refuses our credentials', async () => {
    const reg = await start({ cache: { redisUrl: `redis://:wrong@127.0.0.1:${redisPort}` } });
    const { status, body } = await readyz(reg);
    expect(status).toBe(503);
    expect(body.checks).toEqual({ store: 'ok', redis: expect.stringMatching(/WRONGPASS|invalid/i) });
  });

  it('is 503 when nothing listens at the Redis URL', async () => {
    const closed = await freePort();
    const reg = await start({ cache: { redisUrl: `redis://127.0.0.1:${closed}` } });
    const { status, body } = await readyz(reg);
    expect(status).toBe(503);
    expect(body.checks.redis).toMatch(/ECONNREFUSED/);
    expect(body.checks.store).toBe('ok');
  });
});
