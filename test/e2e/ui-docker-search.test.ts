import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { basic, seedCredentials } from '../helpers/auth.js';
import { startDockerd, type RunningDockerd } from '../helpers/dockerd.js';
import { OCI_CONFIG, OCI_LAYER, OCI_MANIFEST, pushBlob, putManifest } from '../helpers/push.js';
import { startRegistry, tmpDir, type RunningRegistry } from '../helpers/registry.js';

/**
 * `docker search HOST:PORT/term` against our /v1/search, through a private dockerd: by name and by
 * description, and never naming a private repository to an anonymous caller.
 */

let reg: RunningRegistry;
let dockerd: RunningDockerd;

async function push(repo: string, description: string, auth: string): Promise<void> {
  const headers = { authorization: auth };
  const c = await pushBlob(reg.url, repo, JSON.stringify({ architecture: 'amd64', os: 'linux', rootfs: { type: 'layers', diff_ids: [] } }), OCI_CONFIG, { headers, singleRequest: true });
  const l = await pushBlob(reg.url, repo, `layer ${repo}`, OCI_LAYER, { headers, singleRequest: true });
  const body = JSON.stringify({ schemaVersion: 2, mediaType: OCI_MANIFEST, config: c, layers: [l], annotations: { 'org.opencontainers.image.description': description } });
  const res = await putManifest(reg.url, repo, 'latest', body, OCI_MANIFEST, headers);
  expect(res.status).toBe(201);
}

/** Rows of `docker search` as NAME and DESCRIPTION. */
async function search(term: string): Promise<Array<{ name: string; description: string }>> {
  const r = await dockerd.mustDocker(['search', '--no-trunc', '--format', '{{.Name}}\t{{.Description}}', `${reg.host}/${term}`]);
  return r.stdout
    .split('\n')
    .filter((l) => l !== '')
    .map((l) => {
      const [name, description] = l.split('\t');
      return { name: name!, description: description ?? '' };
    });
}

beforeAll(async () => {
  const dataDir = await tmpDir('ui-search-');
  await seedCredentials(dataDir, [{ name: 'admin', password: 'admin-password', access: [{ namespace: '*', scopes: ['read', 'write', 'delete'] }] }]);
  reg = await startRegistry({ auth: { enabled: true, reloadSeconds: 0, namespaces: [{ prefix: 'pub/', visibility: 'public' }] } }, { dataDir });
  const admin = basic('admin', 'admin-password');
  await push('pub/redis-tools', 'Command line tools for Redis', admin);
  await push('pub/webapp', 'A small web application', admin);
  await push('private/redis-secret', 'Private Redis build', admin);
  // 127.0.0.0/8 is an insecure registry by default: dockerd tries TLS, then plain HTTP.
  dockerd = await startDockerd();
}, 120_000);

afterAll(async () => {
  await dockerd?.close();
  await reg?.close();
});

describe('docker search against /v1/search', () => {
  it('finds repositories by name', async () => {
    expect(await search('webapp')).toEqual([{ name: 'pub/webapp', description: 'A small web application' }]);
  });

  it('finds repositories by description, and an anonymous search never shows a private one', async () => {
    const rows = await search('redis');
    expect(rows).toEqual([{ name: 'pub/redis-tools', description: 'Command line tools for Redis' }]);
    expect(JSON.stringify(rows)).not.toContain('secret');
  });
});
