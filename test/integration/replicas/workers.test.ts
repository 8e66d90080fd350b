import { randomBytes } from 'node:crypto';
import { request } from 'node:http';
import { mkdir, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { freePort } from '../../helpers/distribution.js';
import { FakeHub } from '../../helpers/fake-hub.js';
import { makeImage, pushPreparedImage } from '../../helpers/push-image.js';
import { DOCKER_MANIFEST, OCI_MANIFEST, sha256 } from '../../helpers/push.js';
import { tmpDir } from '../../helpers/registry.js';
import { upstreamBlobGets, ReplicaProcess } from '../../helpers/replicas.js';

/**
 * `server.workers: 2` without Redis: node:cluster workers on one port, coordinated by the primary over
 * IPC. Each request below opens its own connection, so the cluster's round-robin spreads them over both
 * workers.
 */

let dir: string;
let hub: FakeHub;
let reg: ReplicaProcess;

/** One request on a fresh connection (no keep-alive), so successive calls land on alternating workers. */
function get(path: string, method = 'GET'): Promise<{ status: number; digest: string | undefined; body: Buffer }> {
  return new Promise((resolve, reject) => {
    const req = request(`${reg.url}${path}`, { method, agent: false, headers: { accept: `${OCI_MANIFEST}, ${DOCKER_MANIFEST}` } }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, digest: res.headers['docker-content-digest'] as string | undefined, body: Buffer.concat(chunks) }));
      res.on('error', reject);
    });
    req.on('error', reject);
    req.end();
  });
}

beforeAll(async () => {
  dir = await tmpDir('workers-');
  hub = await FakeHub.start();
  const port = await freePort();
  await mkdir(join(dir, 'data'));
  const config = {
    server: { host: '127.0.0.1', port, workers: 2 },
    storage: { dataDir: join(dir, 'data') },
    log: { level: 'warn' },
    upstreams: [{ name: 'hub', url: hub.url, prefix: 'docker.io/', dockerHub: true, maxConcurrency: 16 }],
  };
  await writeFile(join(dir, 'config.yaml'), JSON.stringify(config));
  reg = new ReplicaProcess(`127.0.0.1:${port}`, join(dir, 'config.yaml'), {});
  await reg.start();
});

afterAll(async () => {
  await reg?.stop();
  await hub?.stop();
  await rm(dir, { recursive: true, force: true });
});

describe('server.workers: 2 (cluster primary as coordinator)', () => {
  it('read-your-writes: a moved tag is served by every worker right after the push', async () => {
    const first = makeImage('team/w', 'live', [300]);
    await pushPreparedImage(reg.url, first);
    for (let i = 0; i < 4; i++) expect((await get('/v2/team/w/manifests/live', 'HEAD')).digest).toBe(first.manifestDigest);
    for (let round = 0; round < 6; round++) {
      const next = makeImage('team/w', 'live', [400 + round]);
      await pushPreparedImage(reg.url, next);
      for (let i = 0; i < 4; i++) expect((await get('/v2/team/w/manifests/live', 'HEAD')).digest).toBe(next.manifestDigest);
    }
  });

  it('mirror single-flight across workers: 12 concurrent clients, one upstream download', async () => {
    const digest = hub.addBlob(randomBytes(2 * 1024 * 1024));
    hub.faults.blobChunkDelayMs = 40; // ~1.3 s fill: every worker gets a client while it runs
    try {
      // Staggered within the fill: a burst of connections may all be handed to one worker (the primary
      // passes queued connections to whichever worker just took one), one at a time they alternate.
      const pending = [];
      for (let i = 0; i < 12; i++) {
        pending.push(get(`/v2/docker.io/library/cold/blobs/${digest}`));
        await sleep(30);
      }
      const results = await Promise.all(pending);
      for (const r of results) {
        expect(r.status).toBe(200);
        expect(sha256(r.body)).toBe(digest);
      }
    } finally {
      hub.faults.blobChunkDelayMs = 0;
    }
    expect(upstreamBlobGets(hub, digest)).toBe(1);
  });

  it('stops on SIGTERM: the primary waits for its workers and exits 0', async () => {
    const code = await reg.stopWithCode();
    expect(code).toBe(0);
    await expect(get('/v2/')).rejects.toThrow();
  });
});
