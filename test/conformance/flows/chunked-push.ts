import { expect, it } from 'vitest';
import type { FlowContext } from '../conformance-suite.js';
import { makeBlob, uniqueRepo } from '../content.js';
import { bytesOf, expectError, locationOf, type RegistryClient } from '../registry-client.js';

/** Spec, "Pushing a blob in chunks": POST, PATCH with Content-Range, GET status, closing PUT (end-5, end-6, end-13). */
export function chunkedPushFlows(ctx: FlowContext): void {
  function patch(client: RegistryClient, location: string, chunk: Buffer<ArrayBuffer>, start: number): Promise<Response> {
    return client.request('PATCH', location, {
      body: chunk,
      headers: {
        'Content-Type': 'application/octet-stream',
        'Content-Range': `${start}-${start + chunk.length - 1}`,
        'Content-Length': String(chunk.length),
      },
    });
  }

  it('PATCH chunks in order: each 202 with Location and Range 0-<end>; the closing PUT is 201', async () => {
    const client = ctx.client();
    const repo = uniqueRepo('chunked');
    const blob = makeBlob(3000);
    const start = await client.startUpload(repo);
    expect(start.status).toBe(202);
    let location = locationOf(start);
    for (const [from, to] of [[0, 1000], [1000, 2200], [2200, 3000]] as const) {
      const res = await patch(client, location, blob.bytes.subarray(from, to), from);
      expect(res.status, await res.clone().text()).toBe(202);
      expect(res.headers.get('range')).toBe(`0-${to - 1}`);
      location = locationOf(res);
    }
    const put = await client.request('PUT', location, { query: { digest: blob.descriptor.digest } });
    expect(put.status).toBe(201);
    expect(put.headers.get('docker-content-digest')).toBe(blob.descriptor.digest);
    const pulled = await client.get(locationOf(put));
    expect((await bytesOf(pulled)).equals(blob.bytes)).toBe(true);
  });

  it('GET on the session: 204 with Location and Range 0-<last byte received>', async () => {
    const client = ctx.client();
    const repo = uniqueRepo('chunked');
    const blob = makeBlob(1200);
    const first = await patch(client, locationOf(await client.startUpload(repo)), blob.bytes.subarray(0, 500), 0);
    expect(first.status).toBe(202);
    const status = await client.get(locationOf(first));
    expect(status.status).toBe(204);
    expect(status.headers.get('range')).toBe('0-499');
    // The next chunk goes to the Location the status gave.
    const second = await patch(client, locationOf(status), blob.bytes.subarray(500), 500);
    expect(second.status).toBe(202);
    const put = await client.request('PUT', locationOf(second), { query: { digest: blob.descriptor.digest } });
    expect(put.status).toBe(201);
  });

  it('the last chunk may come with the closing PUT (Content-Range and body)', async () => {
    const client = ctx.client();
    const repo = uniqueRepo('chunked');
    const blob = makeBlob(2000);
    const first = await patch(client, locationOf(await client.startUpload(repo)), blob.bytes.subarray(0, 1500), 0);
    expect(first.status).toBe(202);
    const put = await client.request('PUT', locationOf(first), {
      query: { digest: blob.descriptor.digest },
      body: blob.bytes.subarray(1500),
      headers: { 'Content-Type': 'application/octet-stream', 'Content-Range': '1500-1999', 'Content-Length': '500' },
    });
    expect(put.status, await put.clone().text()).toBe(201);
    const pulled = await client.get(`/v2/${repo}/blobs/${blob.descriptor.digest}`);
    expect((await bytesOf(pulled)).equals(blob.bytes)).toBe(true);
  });

  it.runIf(ctx.capabilities.outOfOrderChunkRejected)('a chunk out of order is 416 RANGE_INVALID, and the upload can go on from the reported offset', async () => {
    const client = ctx.client();
    const repo = uniqueRepo('chunked');
    const blob = makeBlob(1000);
    const first = await patch(client, locationOf(await client.startUpload(repo)), blob.bytes.subarray(0, 400), 0);
    expect(first.status).toBe(202);
    const location = locationOf(first);

    // A gap (starts past the end) and a repeat (starts before it) are both out of order.
    await expectError(await patch(client, location, blob.bytes.subarray(600), 600), 416, 'RANGE_INVALID');
    await expectError(await patch(client, location, blob.bytes.subarray(0, 400), 0), 416, 'RANGE_INVALID');

    const status = await client.get(location);
    expect(status.status).toBe(204);
    expect(status.headers.get('range')).toBe('0-399');
    const rest = await patch(client, locationOf(status), blob.bytes.subarray(400), 400);
    expect(rest.status).toBe(202);
    const put = await client.request('PUT', locationOf(rest), { query: { digest: blob.descriptor.digest } });
    expect(put.status).toBe(201);
    const pulled = await client.get(`/v2/${repo}/blobs/${blob.descriptor.digest}`);
    expect((await bytesOf(pulled)).equals(blob.bytes)).toBe(true);
  });
}
