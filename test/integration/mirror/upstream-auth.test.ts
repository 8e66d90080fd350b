import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { FakeHub } from '../../helpers/fake-hub.js';
import { metricValue } from '../../helpers/metric-value.js';
import { captureLogger, ManualClock, startMirror } from '../../helpers/mirror.js';
import { OCI_MANIFEST, sha256 } from '../../helpers/push.js';
import type { RunningRegistry } from '../../helpers/registry.js';

const PASSWORD = 'pa55-Word-that-must-not-leak';

describe('token auth against the upstream', () => {
  let hub: FakeHub;
  let mirror: RunningRegistry;
  const clock = new ManualClock();
  const log = captureLogger();
  const blobs: string[] = [];

  beforeAll(async () => {
    // Tokens say they last 60 s; credentials are required for any token.
    hub = await FakeHub.start({ users: { alice: PASSWORD }, requireCredentials: true, tokenExpiresIn: 60 });
    for (let i = 0; i < 6; i++) blobs.push(hub.addBlob(Buffer.from(`blob ${i}`)));
    const m = Buffer.from(JSON.stringify({ schemaVersion: 2, mediaType: OCI_MANIFEST, config: { mediaType: 'application/vnd.oci.image.config.v1+json', digest: blobs[0], size: 6 }, layers: [] }));
    hub.addManifest('library/private', OCI_MANIFEST, m, 'v1');
    mirror = await startMirror(
      hub.url,
      { credentials: { username: 'alice', passwordEnv: 'HUB_PASSWORD' }, tokenMarginSeconds: 10 },
      { clock, logger: log.logger, env: { HUB_PASSWORD: PASSWORD } },
    );
  });
  afterAll(async () => {
    await mirror?.close();
    await hub?.stop();
  });

  const get = async (path: string) => {
    const res = await fetch(`${mirror.url}/v2/library/private/${path}`);
    const body = Buffer.from(await res.arrayBuffer());
    return { status: res.status, body };
  };

  it('fetches a token with the configured credentials and reuses it', async () => {
    expect((await get('manifests/v1')).status).toBe(200);
    expect((await get(`blobs/${blobs[1]}`)).status).toBe(200);
    expect(hub.issued).toHaveLength(1);
    const tokenRequest = hub.requests.find((r) => r.path === '/token');
    expect(tokenRequest?.authorization).toBe(`Basic ${Buffer.from(`alice:${PASSWORD}`).toString('base64')}`);
    expect(await metricValue(mirror.registry.metrics.upstreamTokenFetches, { result: 'ok' })).toBe(1);
  });

  it('renews a token the clock says has expired, before sending (no extra 401)', async () => {
    const unauthenticated = hub.requests.filter((r) => r.server === 'hub' && r.path !== '/token' && r.authorization === undefined).length;
    clock.advance(51_000); // 60 s lifetime − 10 s margin
    const res = await get(`blobs/${blobs[2]}`);
    expect(res.status).toBe(200);
    expect(sha256(res.body)).toBe(blobs[2]);
    expect(hub.issued).toHaveLength(2);
    expect(hub.requests.filter((r) => r.server === 'hub' && r.path !== '/token' && r.authorization === undefined).length).toBe(unauthenticated);
  });

  it('renews a token the upstream rejects as expired (401), retrying once', async () => {
    hub.revokeTokens();
    const res = await get(`blobs/${blobs[3]}`);
    expect(res.status).toBe(200);
    expect(hub.issued).toHaveLength(3);
    const last = hub.requests.filter((r) => r.path === `/v2/library/private/blobs/${blobs[3]}`);
    expect(last).toHaveLength(2); // rejected with the old token, then accepted with the new one
  });

  it('keeps tokens per scope: another repository gets its own token', async () => {
    hub.addManifest('library/second', OCI_MANIFEST, Buffer.from(JSON.stringify({ schemaVersion: 2, config: { mediaType: 'x', digest: blobs[0], size: 6 }, layers: [] })), 'v1');
    expect((await fetch(`${mirror.url}/v2/library/second/manifests/v1`)).status).toBe(200);
    expect(hub.issued).toHaveLength(4);
    expect(hub.requests.filter((r) => r.path === '/token').at(-1)).toBeDefined();
  });

  it('never writes the password, the Basic header or any token to the log', async () => {
    await mirror.registry.logger.flush?.();
    const text = log.text();
    expect(text.length).toBeGreaterThan(0);
    expect(text).toMatch(/upstream token fetched/); // the trace-level log did run
    expect(text).not.toContain(PASSWORD);
    expect(text).not.toContain(Buffer.from(`alice:${PASSWORD}`).toString('base64'));
    for (const token of hub.issued) expect(text).not.toContain(token);
  });
});

describe('wrong upstream credentials', () => {
  let hub: FakeHub;
  let mirror: RunningRegistry;
  const log = captureLogger();

  beforeAll(async () => {
    hub = await FakeHub.start({ users: { alice: PASSWORD }, requireCredentials: true });
    hub.addManifest('library/private', OCI_MANIFEST, Buffer.from('{"schemaVersion":2,"layers":[]}'), 'v1');
    mirror = await startMirror(hub.url, { credentials: { username: 'alice', password: 'wrong-secret-value' } }, { logger: log.logger });
  });
  afterAll(async () => {
    await mirror?.close();
    await hub?.stop();
  });

  it('answers DENIED with a clear message and logs no secret', async () => {
    const res = await fetch(`${mirror.url}/v2/library/private/manifests/v1`);
    expect(res.status).toBe(403);
    const body = (await res.json()) as { errors: Array<{ code: string; message: string }> };
    expect(body.errors[0]!.code).toBe('DENIED');
    expect(body.errors[0]!.message).toMatch(/upstream hub refused/);
    expect(log.text()).not.toContain('wrong-secret-value');
    expect(log.text()).not.toContain(Buffer.from('alice:wrong-secret-value').toString('base64'));
  });
});
