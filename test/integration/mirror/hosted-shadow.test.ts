import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { FakeHub } from '../../helpers/fake-hub.js';
import { startMirror } from '../../helpers/mirror.js';
import { makeImage, pushPreparedImage, pullImage } from '../../helpers/push-image.js';
import { startRegistry, type RunningRegistry } from '../../helpers/registry.js';

describe('pushing to mirrored names', () => {
  let hub: FakeHub;
  let shadowing: RunningRegistry;
  let prefixed: RunningRegistry;

  beforeAll(async () => {
    hub = await FakeHub.start();
    shadowing = await startMirror(hub.url, { allowHostedShadow: true });
    // A mirror for one prefix only: every other name is an ordinary hosted repository.
    prefixed = await startRegistry({ upstreams: [{ name: 'hub', url: hub.url, prefix: 'docker.io/', dockerHub: true }] });
  });
  afterAll(async () => {
    await shadowing?.close();
    await prefixed?.close();
    await hub?.stop();
  });

  it('allowHostedShadow: a push lands in the cache name and is served without asking upstream', async () => {
    const image = makeImage('library/mine', 'v1');
    await pushPreparedImage(shadowing.url, image);
    const before = hub.requests.length;
    // Same repository under its other spellings.
    for (const name of ['library/mine', 'mine', 'docker.io/library/mine']) {
      const pulled = await pullImage(shadowing.url, name, 'v1');
      expect(pulled.manifest.equals(image.manifest)).toBe(true);
    }
    expect(hub.requests.length).toBe(before);
  });

  it('with a prefix-only mirror, other names stay hosted and pushable; prefixed names are DENIED', async () => {
    await pushPreparedImage(prefixed.url, makeImage('team/app', 'v1'));
    const denied = await fetch(`${prefixed.url}/v2/docker.io/library/alpine/blobs/uploads/`, { method: 'POST' });
    expect(denied.status).toBe(403);
    const catalog = (await (await fetch(`${prefixed.url}/v2/_catalog`)).json()) as { repositories: string[] };
    expect(catalog.repositories).toEqual(['team/app']);
  });
});
