import { spawn, type ChildProcess } from 'node:child_process';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { freePort } from '../helpers/distribution.js';
import { FakeHub } from '../helpers/fake-hub.js';
import { startMirror } from '../helpers/mirror.js';
import type { RunningRegistry } from '../helpers/registry.js';
import { runTool } from '../helpers/run-tool.js';

/** Two replicas with cache.redisUrl share upstream tokens through a real redis-server. */
describe('upstream tokens shared through Redis', () => {
  let redis: ChildProcess;
  let hub: FakeHub;
  let a: RunningRegistry;
  let b: RunningRegistry;
  const blobs: string[] = [];

  beforeAll(async () => {
    const port = await freePort();
    redis = spawn('redis-server', ['--port', String(port), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no'], { stdio: 'ignore' });
    const deadline = Date.now() + 10_000;
    while ((await runTool('redis-cli', ['-p', String(port), 'ping'])).stdout.trim() !== 'PONG') {
      if (Date.now() > deadline) throw new Error('redis-server did not start');
      await new Promise((r) => setTimeout(r, 50));
    }
    hub = await FakeHub.start({ tokenExpiresIn: 300 });
    for (let i = 0; i < 2; i++) blobs.push(hub.addBlob(Buffer.from(`shared ${i}`)));
    const cache = { cache: { redisUrl: `redis://127.0.0.1:${port}` } };
    a = await startMirror(hub.url, {}, {}, cache);
    b = await startMirror(hub.url, {}, {}, cache);
  });
  afterAll(async () => {
    await a?.close();
    await b?.close();
    await hub?.stop();
    redis?.kill('SIGTERM');
  });

  it('a token fetched by one replica is used by the other', async () => {
    expect((await fetch(`${a.url}/v2/library/shared/blobs/${blobs[0]}`)).status).toBe(200);
    expect(hub.issued).toHaveLength(1);
    expect((await fetch(`${b.url}/v2/library/shared/blobs/${blobs[1]}`)).status).toBe(200);
    expect(hub.issued).toHaveLength(1);
  });
});
