import { randomBytes } from 'node:crypto';
import { readdir } from 'node:fs/promises';
import { request } from 'node:http';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { pushBlob, sha256 } from '../../helpers/push.js';
import { startRegistry, type RunningRegistry } from '../../helpers/registry.js';

/**
 * The blob GET fast path (storage/file-copy.ts) recycles 1 MiB buffers: these cases cover chunk
 * boundaries, ranges that straddle them, and clients that hang up mid-body.
 */
describe('blob serving across buffer boundaries', () => {
  let reg: RunningRegistry;
  const repo = 'acme/serving/blobs';
  const MiB = 1024 * 1024;
  const data = randomBytes(3 * MiB + 12_345);
  const digest = sha256(data);
  const exact = randomBytes(2 * MiB);
  const exactDigest = sha256(exact);
  // Bigger than loopback socket buffers, so a client that stops reading leaves the server mid-copy.
  const large = randomBytes(32 * MiB);
  const largeDigest = sha256(large);

  beforeAll(async () => {
    reg = await startRegistry();
    await pushBlob(reg.url, repo, data);
    await pushBlob(reg.url, repo, exact);
    await pushBlob(reg.url, repo, large);
  });
  afterAll(async () => {
    await reg.close();
  });

  const get = async (d: string, headers: Record<string, string> = {}) => {
    const res = await fetch(`${reg.url}/v2/${repo}/blobs/${d}`, { headers });
    return { res, body: Buffer.from(await res.arrayBuffer()) };
  };

  it('serves multi-chunk blobs whole, including sizes that are an exact multiple of the chunk', async () => {
    for (const [d, bytes] of [
      [digest, data],
      [exactDigest, exact],
    ] as const) {
      const { res, body } = await get(d);
      expect(res.status).toBe(200);
      expect(res.headers.get('content-length')).toBe(String(bytes.length));
      expect(body.equals(bytes)).toBe(true);
    }
  });

  it('serves ranges that cross a chunk boundary and the tail of the last chunk', async () => {
    const cases: Array<[number, number]> = [
      [MiB - 10, MiB + 10],
      [0, 2 * MiB],
      [3 * MiB, data.length - 1],
      [data.length - 1, data.length - 1],
    ];
    for (const [start, end] of cases) {
      const { res, body } = await get(digest, { range: `bytes=${start}-${end}` });
      expect(res.status).toBe(206);
      expect(res.headers.get('content-range')).toBe(`bytes ${start}-${end}/${data.length}`);
      expect(body.equals(data.subarray(start, end + 1))).toBe(true);
    }
  });

  it('survives clients that hang up mid-body: no leaked file handles, next GET is whole', async () => {
    const fds = async () => (await readdir('/proc/self/fd')).length;
    const before = await fds();
    for (let i = 0; i < 5; i++) {
      await new Promise<void>((resolve) => {
        const req = request(`${reg.url}/v2/${repo}/blobs/${largeDigest}`, (res) => {
          res.pause();
          res.on('error', () => undefined);
          setTimeout(() => req.destroy(), 50);
        });
        req.on('error', () => undefined);
        req.on('close', () => resolve());
        req.end();
      });
    }
    // Let the server notice the closed sockets and release its handles.
    for (let i = 0; i < 50 && (await fds()) > before; i++) await new Promise((r) => setTimeout(r, 20));
    expect(await fds()).toBeLessThanOrEqual(before);
    const { body } = await get(largeDigest);
    expect(sha256(body)).toBe(largeDigest);
  });
});
