import { randomBytes } from 'node:crypto';
import { mkdir, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Podman, Skopeo } from '../helpers/clients.js';
import { FakeHub } from '../helpers/fake-hub.js';
import { OciLayout, type BuiltImage } from '../helpers/oci-layout.js';
import { makeImage, pushPreparedImage } from '../helpers/push-image.js';
import { DOCKER_MANIFEST, OCI_MANIFEST, putManifest, sha256 } from '../helpers/push.js';
import { startS3, S3_ENV, type RunningS3 } from '../helpers/s3.js';
import { upstreamBlobGets, startTrio, type Trio } from '../helpers/replicas.js';

/**
 * Three replicas (child processes of src/main.ts) sharing one S3 bucket (s3rver) and a Redis index, behind haproxy:
 * real clients through the load balancer, read-your-writes across replicas, the mirror's single-flight
 * across replicas, and a fill taken over after its owner was killed. The trio starts once for the file.
 */

let trio: Trio;
let s3: RunningS3;
let hub: FakeHub;
let work: string;
let src: OciLayout;
let image: BuiltImage;

const ACCEPT = `${OCI_MANIFEST}, ${DOCKER_MANIFEST}`;

async function digestOf(base: string, repo: string, ref: string): Promise<string | null> {
  const res = await fetch(`${base}/v2/${repo}/manifests/${ref}`, { method: 'HEAD', headers: { accept: ACCEPT } });
  return res.status === 200 ? res.headers.get('docker-content-digest') : `status ${res.status}`;
}

beforeAll(async () => {
  work = join(tmpdir(), `e2e-replicas-${randomBytes(4).toString('hex')}`);
  await mkdir(work);
  src = await OciLayout.create(join(work, 'src'));
  image = await src.addImage({ layerSizes: [2048, 300_000, 3 * 1024 * 1024], seed: 'replicas-image' }, 'v1');
  await src.finish();
  hub = await FakeHub.start();
  // s3rver as its own process: the replicas' blob traffic must not queue behind this test's own thread.
  s3 = await startS3({ child: true });
  trio = await startTrio({
    config: { storage: s3.storage(), upstreams: [{ name: 'hub', url: hub.url, prefix: 'docker.io/', dockerHub: true, maxConcurrency: 16 }] },
    env: S3_ENV,
  });
});

afterAll(async () => {
  await trio?.stop();
  await s3?.close();
  await hub?.stop();
  if (work) await rm(work, { recursive: true, force: true });
});

describe('three replicas behind haproxy', () => {
  it('skopeo copies an image in and out through the load balancer, byte-identical', async () => {
    const skopeo = await Skopeo.create();
    try {
      await skopeo.run(['copy', '--preserve-digests', '--dest-tls-verify=false', src.reference('v1'), `docker://${trio.lb.host}/team/app:1.0`]);
      const back = join(work, 'back');
      await skopeo.run(['copy', '--src-tls-verify=false', `docker://${trio.lb.host}/team/app:1.0`, `oci:${back}:out`]);
      for (const d of [image.manifest, image.config, ...image.layers]) {
        const copy = await readFile(join(back, 'blobs', 'sha256', d.digest.slice('sha256:'.length)));
        expect(copy.equals(await src.readBlob(d.digest))).toBe(true);
      }
      // Every replica answers for it: one index, one store.
      for (const r of trio.replicas) expect(await digestOf(r.url, 'team/app', '1.0')).toBe(image.manifest.digest);
    } finally {
      await skopeo.close();
    }
  });

  it('podman pushes and pulls through the load balancer with the same image id and layers', async () => {
    const podman = await Podman.create();
    try {
      const policy = ['--signature-policy', podman.policyPath()];
      await podman.run(['pull', ...policy, src.reference('v1')]);
      const ref = `${trio.lb.host}/team/podman:1`;
      await podman.run(['push', '--tls-verify=false', ...policy, `localhost${src.dir}:latest`, `docker://${ref}`]);
      await podman.run(['rmi', '--all', '--force']);
      await podman.run(['pull', '--tls-verify=false', ...policy, ref]);
      const [inspected] = JSON.parse((await podman.run(['image', 'inspect', ref])).stdout) as Array<{ Id: string; RootFS: { Layers: string[] } }>;
      expect(`sha256:${inspected!.Id}`).toBe(image.config.digest);
      expect(inspected!.RootFS.Layers).toEqual(image.layers.map((l) => l.diffId));
    } finally {
      await podman.close();
    }
  });

  it('read-your-writes: a tag moved or deleted through replica A is seen at once through B and C', async () => {
    const [a, b, c] = trio.replicas as [typeof trio.replicas[0], typeof trio.replicas[0], typeof trio.replicas[0]];
    const first = makeImage('team/ryw', 'live', [512]);
    await pushPreparedImage(a!.url, first);
    // B and C read (and cache) the tag before it moves.
    expect(await digestOf(b!.url, 'team/ryw', 'live')).toBe(first.manifestDigest);
    expect(await digestOf(c!.url, 'team/ryw', 'live')).toBe(first.manifestDigest);
    for (let i = 0; i < 10; i++) {
      const next = makeImage('team/ryw', 'live', [256 + i]);
      await pushPreparedImage(a!.url, next);
      // Immediately after A's 201: no sleep, no retry.
      expect(await digestOf(b!.url, 'team/ryw', 'live')).toBe(next.manifestDigest);
      expect(await digestOf(c!.url, 'team/ryw', 'live')).toBe(next.manifestDigest);
    }
    const del = await fetch(`${a!.url}/v2/team/ryw/manifests/live`, { method: 'DELETE' });
    expect(del.status).toBe(202);
    expect(await digestOf(b!.url, 'team/ryw', 'live')).toBe('status 404');
    expect(await digestOf(c!.url, 'team/ryw', 'live')).toBe('status 404');
    // Tag listing through the load balancer reflects the index at once as well.
    const res = await putManifest(trio.lb.url, 'team/ryw', 'again', first.manifest, OCI_MANIFEST);
    expect(res.status).toBe(201);
    const tags = (await (await fetch(`${trio.lb.url}/v2/team/ryw/tags/list`)).json()) as { tags: string[] };
    expect(tags.tags).toEqual(['again']);
  });

  it('mirror single-flight: 16 clients over 3 replicas ask for one cold blob, the upstream sends it once', async () => {
    const bytes = randomBytes(4 * 1024 * 1024);
    const digest = hub.addBlob(bytes);
    hub.faults.blobChunkDelayMs = 20; // ~1.3 s fill: the 16 requests overlap it
    try {
      const results = await Promise.all(
        Array.from({ length: 16 }, async (_, i) => {
          const replica = trio.replicas[i % 3]!;
          const res = await fetch(`${replica.url}/v2/docker.io/library/cold/blobs/${digest}`);
          return { status: res.status, body: Buffer.from(await res.arrayBuffer()) };
        }),
      );
      for (const r of results) {
        expect(r.status).toBe(200);
        expect(sha256(r.body)).toBe(digest);
      }
    } finally {
      hub.faults.blobChunkDelayMs = 0;
    }
    expect(upstreamBlobGets(hub, digest)).toBe(1);
  });

  it('a replica killed mid-fill: another takes the fill over after the lease, and a retrying client succeeds', async () => {
    const bytes = randomBytes(2 * 1024 * 1024);
    const digest = hub.addBlob(bytes);
    hub.faults.blobChunkDelayMs = 50; // 32 chunks × 50 ms: ~1.6 s per fill
    const [a, b] = trio.replicas;
    try {
      // Replica A owns the fill; B's client waits on A's lease.
      const onA = fetch(`${a!.url}/v2/docker.io/library/takeover/blobs/${digest}`).then((r) => r.arrayBuffer()).catch(() => 'cut');
      while (upstreamBlobGets(hub, digest) === 0) await sleep(20);
      const onB = fetch(`${b!.url}/v2/docker.io/library/takeover/blobs/${digest}`);
      await sleep(200);
      const killedAt = Date.now();
      await a!.kill();
      expect(await onA).toBe('cut');
      // B's waiting client is served once B (or C) takes the fill over: within the 2 s lease plus one fill.
      const res = await onB;
      expect(res.status).toBe(200);
      expect(sha256(Buffer.from(await res.arrayBuffer()))).toBe(digest);
      const tookMs = Date.now() - killedAt;
      expect(tookMs).toBeLessThan(2000 + 5000);
      // A client retrying through the load balancer (A is down: haproxy routes around it) succeeds too.
      let body: Buffer | undefined;
      for (let attempt = 0; attempt < 5 && !body; attempt++) {
        const r = await fetch(`${trio.lb.url}/v2/docker.io/library/takeover/blobs/${digest}`).catch(() => undefined);
        if (r?.status === 200) body = Buffer.from(await r.arrayBuffer());
        else await sleep(200);
      }
      expect(body && sha256(body)).toBe(digest);
      // The dead owner's download and the one that took over: never more.
      expect(upstreamBlobGets(hub, digest)).toBe(2);
    } finally {
      hub.faults.blobChunkDelayMs = 0;
      await a!.start();
    }
  });
});
