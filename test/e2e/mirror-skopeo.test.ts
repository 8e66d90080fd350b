import { readdir, readFile, rm } from 'node:fs/promises';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { dockerHubMirrorConf } from '../helpers/clients.js';
import { FakeHub } from '../helpers/fake-hub.js';
import { startMirror } from '../helpers/mirror.js';
import { OciLayout, type BuiltImage } from '../helpers/oci-layout.js';
import { tmpDir, type RunningRegistry } from '../helpers/registry.js';
import { mustRun } from '../helpers/run-tool.js';

/** Every file skopeo wrote into a `dir:` destination, by name. */
async function dirContents(dir: string): Promise<Map<string, Buffer>> {
  const out = new Map<string, Buffer>();
  for (const name of (await readdir(dir)).sort()) out.set(name, await readFile(join(dir, name)));
  return out;
}

describe('skopeo through the mirror (registries.conf mirror for docker.io)', () => {
  let hub: FakeHub;
  let mirror: RunningRegistry;
  let work: string;
  let conf: string;
  let image: BuiltImage;
  let env: NodeJS.ProcessEnv;

  beforeAll(async () => {
    hub = await FakeHub.start();
    work = await tmpDir('skopeo-e2e-');
    const layout = await OciLayout.create(join(work, 'layout'));
    image = await layout.addImage({ layerSizes: [2 * 1024 * 1024, 100_000], seed: 'skopeo-e2e' });
    await hub.addFromLayout(layout.dir, 'library/alpinex', image.manifest.digest, '1');
    mirror = await startMirror(hub.url);
    ({ conf, env } = await dockerHubMirrorConf(work, mirror.host));
  });
  afterAll(async () => {
    await mirror?.close();
    await hub?.stop();
    if (work) await rm(work, { recursive: true, force: true });
  });

  it('a cold pull through the mirror is byte-identical to a direct pull; the second makes no upstream request', async () => {
    const direct = join(work, 'direct');
    await mustRun('skopeo', ['copy', '--src-tls-verify=false', `docker://${hub.host}/library/alpinex:1`, `dir:${direct}`], { env });
    const before = hub.requests.length;

    const cold = join(work, 'cold');
    await mustRun('skopeo', ['--registries-conf', conf, 'copy', 'docker://docker.io/library/alpinex:1', `dir:${cold}`], { env });
    expect(hub.requests.length).toBeGreaterThan(before); // the mirror did go upstream
    const want = await dirContents(direct);
    const got = await dirContents(cold);
    expect([...got.keys()]).toEqual([...want.keys()]);
    for (const [name, bytes] of want) expect(got.get(name)!.equals(bytes), name).toBe(true);
    expect(got.has(image.layers[0]!.digest.slice(7))).toBe(true);

    const afterCold = hub.requests.length;
    const warm = join(work, 'warm');
    await mustRun('skopeo', ['--registries-conf', conf, 'copy', 'docker://docker.io/library/alpinex:1', `dir:${warm}`], { env });
    expect(hub.requests.length).toBe(afterCold);
    const again = await dirContents(warm);
    for (const [name, bytes] of want) expect(again.get(name)!.equals(bytes), name).toBe(true);
  });
});
