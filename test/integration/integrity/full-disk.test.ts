import { execFile } from 'node:child_process';
import { mkdir, rm, stat, statfs, writeFile } from 'node:fs/promises';
import { request } from 'node:http';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { metricValue } from '../../helpers/metric-value.js';
import { listFiles, OCI_MANIFEST, pushImage, sha256, type PushedImage } from '../../helpers/push.js';
import { startRegistry, tmpDir, type RunningRegistry } from '../../helpers/registry.js';

const run = promisify(execFile);
const MiB = 1024 * 1024;
const FLOOR = 16 * MiB;

/**
 * Sends `size` bytes as a request body and resolves with the response, even when the server answers
 * before it has read the whole body (as it must on a full disk) and then closes the connection.
 */
function sendBody(url: string, method: string, size: number, headers: Record<string, string> = {}): Promise<{ status: number; body: string; headers: Record<string, unknown> }> {
  return new Promise((resolve, reject) => {
    const req = request(url, { method, headers: { 'Content-Type': 'application/octet-stream', 'Content-Length': String(size), ...headers }, agent: false }, (res) => {
      let body = '';
      res.on('data', (c: Buffer) => (body += c.toString('utf8')));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body, headers: res.headers }));
      res.on('error', reject);
    });
    req.on('error', () => undefined); // EPIPE/ECONNRESET while still sending: the answer is what counts
    const chunk = Buffer.alloc(MiB, 7);
    let sent = 0;
    const pump = () => {
      while (sent < size) {
        const n = Math.min(MiB, size - sent);
        sent += n;
        if (!req.write(n === MiB ? chunk : chunk.subarray(0, n))) return void req.once('drain', pump);
      }
      req.end();
    };
    pump();
  });
}

const free = async (dir: string) => {
  const s = await statfs(dir);
  return s.bavail * s.bsize;
};

/** Issue 10, items 4 and 5: a full disk is a clear 507, leaves nothing behind, and shows in /readyz first. */
describe('full disk (a 64 MiB tmpfs as the data folder)', () => {
  let mountPoint: string;
  let reg: RunningRegistry;
  let image: PushedImage;

  beforeAll(async () => {
    mountPoint = join(await tmpDir('enospc-'), 'data');
    await mkdir(mountPoint);
    await run('mount', ['-t', 'tmpfs', '-o', 'size=64m', 'tmpfs', mountPoint]);
    reg = await startRegistry({ storage: { minFreeBytes: FLOOR } }, { dataDir: mountPoint, keepData: true });
    image = await pushImage(reg.url, 'team/full', 'v1', { seed: 'full' });
  });
  afterAll(async () => {
    await reg?.close();
    await run('umount', [mountPoint]).catch(() => undefined);
    await rm(join(mountPoint, '..'), { recursive: true, force: true });
  });

  const expect507 = (res: { status: number; body: string }) => {
    expect(res.status).toBe(507);
    const error = (JSON.parse(res.body) as { errors: Array<{ code: string; message: string }> }).errors[0]!;
    expect(error.code).toBe('UNAVAILABLE');
    expect(error.message).toMatch(/storage is full/);
  };

  const readsStillWork = async () => {
    const m = await fetch(`${reg.url}/v2/team/full/manifests/v1`, { headers: { Accept: OCI_MANIFEST } });
    expect(m.status).toBe(200);
    expect(Buffer.from(await m.arrayBuffer())).toEqual(image.body);
    const b = await fetch(`${reg.url}/v2/team/full/blobs/${image.layers[0]!.digest}`);
    expect(await b.text()).toBe('layer of full');
  };

  it('4. ENOSPC answers 500 UNKNOWN: PATCH and PUT-with-body get 507 with a clear message, and reads go on', async () => {
    const start = await fetch(`${reg.url}/v2/team/full/blobs/uploads/`, { method: 'POST' });
    const location = new URL(start.headers.get('location')!, reg.url).href;
    expect507(await sendBody(location, 'PATCH', 80 * MiB));
    await readsStillWork();

    const start2 = await fetch(`${reg.url}/v2/team/full/blobs/uploads/`, { method: 'POST' });
    const location2 = new URL(start2.headers.get('location')!, reg.url);
    location2.searchParams.set('digest', sha256('not what is sent'));
    expect507(await sendBody(location2.href, 'PUT', 80 * MiB));
    await readsStillWork();

    // The single-request upload (POST ?digest=) too.
    expect507(await sendBody(`${reg.url}/v2/team/full/blobs/uploads/?digest=${sha256('x')}`, 'POST', 80 * MiB));
    await readsStillWork();
    expect(await metricValue(reg.registry.metrics.storeFullErrors)).toBe(3);
  });

  it('5. PUT-with-body keeps the partial upload: a failed write frees what it wrote; the session resumes where it was', async () => {
    const before = await free(mountPoint);
    const start = await fetch(`${reg.url}/v2/team/full/blobs/uploads/`, { method: 'POST' });
    const id = start.headers.get('docker-upload-uuid')!;
    const location = new URL(start.headers.get('location')!, reg.url);
    const first = await fetch(location, { method: 'PATCH', body: Buffer.alloc(1000, 1), headers: { 'Content-Range': '0-999' } });
    expect(first.status).toBe(202);
    location.searchParams.set('digest', sha256('whatever'));
    expect507(await sendBody(location.href, 'PUT', 80 * MiB));
    // Only what earlier requests wrote is left; the temp folder is empty; the space is back.
    expect((await stat(join(mountPoint, 'uploads', id, 'data'))).size).toBe(1000);
    expect(await listFiles(join(mountPoint, 'tmp'))).toEqual([]);
    expect(await free(mountPoint)).toBeGreaterThanOrEqual(before - 64 * 1024);
    const status = await fetch(new URL(start.headers.get('location')!, reg.url));
    expect(status.status).toBe(204);
    expect(status.headers.get('range')).toBe('0-999');
  });

  it('5. /readyz reports the store not ready under storage.minFreeBytes, and the floor is exported for alerts', async () => {
    expect((await fetch(`${reg.url}/readyz`)).status).toBe(200);
    const filler = join(mountPoint, 'filler');
    await writeFile(filler, Buffer.alloc((await free(mountPoint)) - FLOOR / 2));
    try {
      const res = await fetch(`${reg.url}/readyz`);
      expect(res.status).toBe(503);
      const body = (await res.json()) as { checks: Record<string, string> };
      expect(body.checks.store).toMatch(/under the floor storage\.minFreeBytes=16777216/);
      await readsStillWork();
    } finally {
      await rm(filler);
    }
    expect((await fetch(`${reg.url}/readyz`)).status).toBe(200);
    const metrics = await (await fetch(`${reg.url}/metrics`)).text();
    expect(metrics).toMatch(/^registry_store_filesystem_min_free_bytes 16777216$/m);
    expect(metrics).toMatch(/^registry_store_filesystem_avail_bytes \d+/m);
  });
});
