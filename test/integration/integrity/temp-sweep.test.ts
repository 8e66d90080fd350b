import { spawn } from 'node:child_process';
import { randomBytes, randomUUID } from 'node:crypto';
import { existsSync } from 'node:fs';
import { readFile, readdir, rm, stat, utimes, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { pino } from 'pino';
import { Registry as PromRegistry } from 'prom-client';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { TempSweeper } from '../../../src/lifecycle/temp-sweeper.js';
import { createMetrics } from '../../../src/metrics/metrics.js';
import { freePort } from '../../helpers/distribution.js';
import { FakeHub } from '../../helpers/fake-hub.js';
import { metricValue } from '../../helpers/metric-value.js';
import { startMirror } from '../../helpers/mirror.js';
import { tmpDir, type RunningRegistry } from '../../helpers/registry.js';
import { ReplicaProcess } from '../../helpers/replicas.js';
import { download, waitFor } from './helpers.js';

/** The start time (/proc/<pid>/stat field 22) a temp file name carries for its owner. */
async function startTime(pid: number): Promise<string> {
  const stat = await readFile(`/proc/${pid}/stat`, 'utf8');
  return stat.slice(stat.lastIndexOf(')') + 2).split(' ')[19]!;
}

/** Issue 10, item 3: temp files of killed processes go; those of live processes (other workers) stay. */
describe('3. a killed mirror fill leaks its temp file forever', () => {
  let hub: FakeHub;
  let dataDir: string;
  let replica: ReplicaProcess | undefined;
  let mirror: RunningRegistry | undefined;
  const sleeper = spawn('sleep', ['60']);
  const blob = randomBytes(16 * 1024 * 1024);
  let digest: string;

  beforeAll(async () => {
    hub = await FakeHub.start();
    digest = hub.addBlob(blob);
    dataDir = await tmpDir('sweep-');
  });
  afterAll(async () => {
    sleeper.kill('SIGKILL');
    await replica?.stop().catch(() => undefined);
    await mirror?.close();
    await hub?.stop();
    await rm(dataDir, { recursive: true, force: true });
  });

  const tmpFiles = () => readdir(join(dataDir, 'tmp')).catch(() => [] as string[]);

  it('after SIGKILL mid-fill the fill file is removed at the next start; files of live processes and fresh unowned files stay', async () => {
    const port = await freePort();
    const configPath = join(dataDir, '..', `${randomUUID()}.json`);
    await writeFile(
      configPath,
      JSON.stringify({
        server: { host: '127.0.0.1', port, workers: 1 },
        storage: { dataDir },
        log: { level: 'warn' },
        upstreams: [{ name: 'hub', url: hub.url, prefix: 'docker.io/', default: true, dockerHub: true }],
      }),
    );
    replica = new ReplicaProcess(`127.0.0.1:${port}`, configPath, {});
    await replica.start();
    hub.faults.blobChunkDelayMs = 20; // ~5 s for the whole blob: the kill lands mid-fill
    void download(`${replica.url}/v2/library/big/blobs/${digest}`, digest);
    let fill = '';
    await waitFor('a growing .fill file', async () => {
      fill = (await tmpFiles()).find((f) => f.endsWith('.fill')) ?? '';
      return fill !== '' && (await stat(join(dataDir, 'tmp', fill))).size > 0;
    });
    await replica.kill();
    replica = undefined;
    await rm(configPath);
    hub.faults.blobChunkDelayMs = 0;
    expect(await tmpFiles()).toContain(fill);

    // Beside it: a file of a live process (another worker), an unowned file from an older version
    // written just now, and an unowned one two hours old.
    const live = `${sleeper.pid}.${await startTime(sleeper.pid!)}-${randomUUID()}.fill`;
    const fresh = `${randomUUID()}.fill`;
    const old = `${randomUUID()}.blob`;
    for (const name of [live, fresh, old]) await writeFile(join(dataDir, 'tmp', name), 'x');
    const twoHoursAgo = new Date(Date.now() - 2 * 3600_000);
    await utimes(join(dataDir, 'tmp', old), twoHoursAgo, twoHoursAgo);

    mirror = await startMirror(hub.url, {}, { dataDir, keepData: true });
    expect((await tmpFiles()).sort()).toEqual([fresh, live].sort());
    expect(await metricValue(mirror.registry.metrics.storeTempFilesSwept)).toBe(2);
    // And the blob is pulled whole afterwards.
    expect(await download(`${mirror.url}/v2/library/big/blobs/${digest}`, digest)).toEqual({ status: 200, bytes: blob.length, complete: true, intact: true });
  });

  it('the periodic sweep removes a file once its owner process is gone, never while it runs', async () => {
    const metrics = createMetrics(new PromRegistry());
    const sweeper = new TempSweeper({ tmpDir: join(dataDir, 'tmp'), logger: pino({ level: 'silent' }), metrics });
    const owned = (await tmpFiles()).find((f) => f.startsWith(`${sleeper.pid}.`))!;
    expect(await sweeper.sweep()).toBe(0);
    sleeper.kill('SIGKILL');
    await waitFor('sleep to exit', async () => sleeper.exitCode !== null || sleeper.signalCode !== null);
    expect(await sweeper.sweep()).toBe(1);
    expect(existsSync(join(dataDir, 'tmp', owned))).toBe(false);
  });
});
