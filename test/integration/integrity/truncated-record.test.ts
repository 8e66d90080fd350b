import { readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { FakeHub } from '../../helpers/fake-hub.js';
import { metricValue } from '../../helpers/metric-value.js';
import { captureLogger, startMirror } from '../../helpers/mirror.js';
import { errorCode, OCI_MANIFEST, pushImage } from '../../helpers/push.js';
import { startRegistry, type RunningRegistry } from '../../helpers/registry.js';
import { quarantined } from './helpers.js';

const recordPath = (dataDir: string, repo: string, digest: string) => join(dataDir, 'repositories', ...repo.split('/'), '_manifests', 'sha256', digest.slice(7));

async function truncate(path: string): Promise<void> {
  const text = await readFile(path);
  await writeFile(path, text.subarray(0, Math.floor(text.length / 2)));
}

/** Issue 10, item 2: a truncated or unreadable manifest record is corrupt content, never a 500. */
describe('2. a truncated manifest record answers 500', () => {
  const log = captureLogger();
  let reg: RunningRegistry;
  let hub: FakeHub;
  let mirror: RunningRegistry;

  beforeAll(async () => {
    reg = await startRegistry({}, { logger: log.logger });
    hub = await FakeHub.start();
    mirror = await startMirror(hub.url);
  });
  afterAll(async () => {
    await reg?.close();
    await mirror?.close();
    await hub?.stop();
  });

  it('hosted: 404 MANIFEST_UNKNOWN by tag and by digest, an error log naming the file, the file moved to quarantine', async () => {
    const image = await pushImage(reg.url, 'team/torn', 'v1', { seed: 'torn' });
    const file = recordPath(reg.dataDir, 'team/torn', image.manifest.digest);
    await truncate(file);
    for (const ref of ['v1', image.manifest.digest]) {
      for (const method of ['GET', 'HEAD']) {
        const res = await fetch(`${reg.url}/v2/team/torn/manifests/${ref}`, { method, headers: { Accept: OCI_MANIFEST } });
        expect(res.status, `${method} ${ref}`).toBe(404);
        if (method === 'GET') expect(await errorCode(res)).toBe('MANIFEST_UNKNOWN');
      }
    }
    const errors = log.text().split('\n').filter((l) => l.includes('"level":50'));
    expect(errors.some((l) => l.includes(file) && l.includes('unreadable manifest record'))).toBe(true);
    expect(await metricValue(reg.registry.metrics.storeCorrupt, { kind: 'record' })).toBe(1);
    expect((await quarantined(reg.dataDir)).some((f) => f.endsWith(image.manifest.digest.slice(7)))).toBe(true);
    // A push of the same manifest writes a good record again.
    const again = await pushImage(reg.url, 'team/torn', 'v1', { seed: 'torn' });
    expect(again.manifest.digest).toBe(image.manifest.digest);
    expect((await fetch(`${reg.url}/v2/team/torn/manifests/v1`, { headers: { Accept: OCI_MANIFEST } })).status).toBe(200);
  });

  it('cached: the manifest is refetched from upstream, by tag and by digest', async () => {
    const body = Buffer.from(JSON.stringify({ schemaVersion: 2, mediaType: OCI_MANIFEST, config: { mediaType: 'application/vnd.oci.image.config.v1+json', digest: `sha256:${'1'.repeat(64)}`, size: 2 }, layers: [] }));
    const digest = hub.addManifest('library/torn', OCI_MANIFEST, body, 'latest');
    const get = (ref: string) => fetch(`${mirror.url}/v2/library/torn/manifests/${ref}`, { headers: { Accept: OCI_MANIFEST } });
    expect((await get('latest')).status).toBe(200);
    const gets = () => hub.count({ method: 'GET', pathIncludes: '/library/torn/manifests/' });
    for (const ref of ['latest', digest]) {
      await truncate(recordPath(mirror.dataDir, 'docker.io/library/torn', digest));
      const before = gets();
      const res = await get(ref);
      expect(res.status, ref).toBe(200);
      expect(Buffer.from(await res.arrayBuffer())).toEqual(body);
      expect(gets(), ref).toBe(before + 1);
    }
  });
});
