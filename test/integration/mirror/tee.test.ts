import { randomBytes } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { FakeHub } from '../../helpers/fake-hub.js';
import { startMirror } from '../../helpers/mirror.js';
import { sha256 } from '../../helpers/push.js';
import type { RunningRegistry } from '../../helpers/registry.js';

/**
 * Issue 9: the client that starts a fill is fed from the upstream's chunks as they arrive (a tee), not
 * after they were batched, written and read back; the last byte still waits for the digest.
 */
describe('mirror tee', () => {
  let hub: FakeHub;
  let mirror: RunningRegistry;

  beforeAll(async () => {
    hub = await FakeHub.start();
    // 64 KiB every 25 ms: a 768 KiB body takes ~300 ms upstream.
    hub.faults.blobChunkDelayMs = 25;
    mirror = await startMirror(hub.url);
  });
  afterAll(async () => {
    await mirror?.close();
    await hub?.stop();
  });

  it('a cold client gets bytes while the upstream is still sending, and the whole body verifies', async () => {
    // Under one write batch (1 MiB): without the tee nothing reached the client before the upstream finished.
    const bytes = randomBytes(768 * 1024);
    const digest = hub.addBlob(bytes);
    const res = await fetch(`${mirror.url}/v2/library/tee/blobs/${digest}`);
    expect(res.status).toBe(200);
    const chunks: Buffer[] = [];
    let inFlightAtFirstBytes: number | undefined;
    for await (const chunk of res.body as AsyncIterable<Uint8Array>) {
      inFlightAtFirstBytes ??= hub.blobsInFlight;
      chunks.push(Buffer.from(chunk));
    }
    expect(inFlightAtFirstBytes).toBe(1);
    expect(sha256(Buffer.concat(chunks))).toBe(digest);
    expect(hub.count({ server: 'blobs', method: 'GET', path: `/data/${digest}` })).toBe(1);
  });

  it('a corrupt upstream body is cut before its last byte even though earlier bytes went out from memory', async () => {
    const bytes = randomBytes(256 * 1024);
    const digest = hub.addBlob(bytes);
    hub.faults.corrupt.add(digest);
    let received = 0;
    const outcome = await (async () => {
      const res = await fetch(`${mirror.url}/v2/library/tee-bad/blobs/${digest}`);
      for await (const chunk of res.body as AsyncIterable<Uint8Array>) received += chunk.length;
      return 'complete';
    })().catch(() => 'cut');
    expect(outcome).toBe('cut');
    expect(received).toBeLessThan(bytes.length);
  });
});
