import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startRegistry, type RunningRegistry } from '../../helpers/registry.js';
import { errorCode } from '../../helpers/push.js';

describe('GET /v2/ and health', () => {
  let reg: RunningRegistry;
  beforeAll(async () => {
    reg = await startRegistry();
  });
  afterAll(async () => {
    await reg.close();
  });

  it('GET /v2/ answers 200 with Docker-Distribution-API-Version: registry/2.0', async () => {
    const res = await fetch(`${reg.url}/v2/`);
    expect(res.status).toBe(200);
    expect(res.headers.get('docker-distribution-api-version')).toBe('registry/2.0');
    expect(await res.json()).toEqual({});
  });

  it('HEAD /v2/ and /v2 without the slash answer 200 too', async () => {
    const head = await fetch(`${reg.url}/v2/`, { method: 'HEAD' });
    expect(head.status).toBe(200);
    expect(head.headers.get('docker-distribution-api-version')).toBe('registry/2.0');
    expect((await fetch(`${reg.url}/v2`)).status).toBe(200);
  });

  it('other methods on /v2/ are 405 UNSUPPORTED', async () => {
    const res = await fetch(`${reg.url}/v2/`, { method: 'POST' });
    expect(res.status).toBe(405);
    expect(await errorCode(res)).toBe('UNSUPPORTED');
  });

  it('an unknown /v2 endpoint is a JSON 404, not a crash', async () => {
    const res = await fetch(`${reg.url}/v2/app/nothing-here/x`);
    expect(res.status).toBe(404);
    expect(await errorCode(res)).toBeDefined();
  });

  it('GET /healthz answers 200', async () => {
    const res = await fetch(`${reg.url}/healthz`);
    expect(res.status).toBe(200);
    expect(await res.json()).toEqual({ status: 'ok' });
  });
});
