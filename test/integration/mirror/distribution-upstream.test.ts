import { execFileSync } from 'node:child_process';
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startDistribution, type RunningDistribution } from '../../helpers/distribution.js';
import { captureLogger, startMirror } from '../../helpers/mirror.js';
import { makeImage, pullImage, pushPreparedImage, type PreparedImage } from '../../helpers/push-image.js';
import { tmpDir, type RunningRegistry } from '../../helpers/registry.js';

const USER = 'mirror-user';
const PASSWORD = 'dist-Pa55-secret';

/** CNCF Distribution (Debian's docker-registry) as an independently written upstream, htpasswd Basic auth on. */
describe('pull-through from docker-registry with htpasswd auth', () => {
  let upstream: RunningDistribution;
  let mirror: RunningRegistry;
  let image: PreparedImage;
  const log = captureLogger();
  const basic = `Basic ${Buffer.from(`${USER}:${PASSWORD}`).toString('base64')}`;

  beforeAll(async () => {
    const dir = await tmpDir('htpasswd-');
    const htpasswd = join(dir, 'htpasswd');
    await writeFile(htpasswd, execFileSync('htpasswd', ['-Bbn', USER, PASSWORD]));
    upstream = await startDistribution({ htpasswd: { path: htpasswd } });
    image = makeImage('team/app', 'v1', [200_000, 3000]);
    await pushPreparedImage(upstream.url, image, { authorization: basic });
    mirror = await startMirror(
      upstream.url,
      { name: 'dist', prefix: 'registry.test/', default: false, dockerHub: false, credentials: { username: USER, passwordEnv: 'DIST_PASSWORD' } },
      { logger: log.logger, env: { DIST_PASSWORD: PASSWORD } },
    );
  });
  afterAll(async () => {
    await mirror?.close();
    await upstream?.close();
  });

  it('a cold pull through the mirror is byte-identical to a direct pull', async () => {
    const direct = await pullImage(upstream.url, 'team/app', 'v1', { authorization: basic });
    const mirrored = await pullImage(mirror.url, 'registry.test/team/app', 'v1');
    expect(mirrored.manifestDigest).toBe(image.manifestDigest);
    expect([...mirrored.contents.keys()].sort()).toEqual([...direct.contents.keys()].sort());
    for (const [d, bytes] of direct.contents) expect(mirrored.contents.get(d)!.equals(bytes)).toBe(true);
  });

  it('lists tags from the upstream; names outside the prefix stay hosted', async () => {
    const tags = (await (await fetch(`${mirror.url}/v2/registry.test/team/app/tags/list`)).json()) as { tags: string[] };
    expect(tags.tags).toEqual(['v1']);
    expect((await fetch(`${mirror.url}/v2/team/app/manifests/v1`)).status).toBe(404);
  });

  it('serves the cached image with the upstream gone', async () => {
    await upstream.close();
    const again = await pullImage(mirror.url, 'registry.test/team/app', image.manifestDigest);
    expect(again.manifestDigest).toBe(image.manifestDigest);
    const byTag = await fetch(`${mirror.url}/v2/registry.test/team/app/manifests/v1`);
    expect(byTag.status).toBe(200);
    await byTag.arrayBuffer();
  });

  it('never logs the upstream password', () => {
    expect(log.text()).not.toContain(PASSWORD);
    expect(log.text()).not.toContain(basic.slice(6));
  });
});
