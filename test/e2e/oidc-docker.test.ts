import { rm } from 'node:fs/promises';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { basic, seedCredentials } from '../helpers/auth.js';
import { Skopeo } from '../helpers/clients.js';
import { startDockerd, type RunningDockerd } from '../helpers/dockerd.js';
import { OciLayout } from '../helpers/oci-layout.js';
import { githubClaims, OidcIssuer } from '../helpers/oidc-issuer.js';
import { startRegistry, tmpDir, type RunningRegistry } from '../helpers/registry.js';

/**
 * `docker login -u oidc --password-stdin` with an OIDC token (issue 15), on a private dockerd (Debian's
 * 20.10): the job pushes to the namespace its policy allows and is refused elsewhere. The base image comes
 * from a public namespace of the same registry (nothing leaves the machine).
 */

let issuer: OidcIssuer;
let reg: RunningRegistry;
let dockerd: RunningDockerd;
let work: string;

beforeAll(async () => {
  issuer = await OidcIssuer.start();
  work = await tmpDir('oidc-docker-');
  const dataDir = join(work, 'data');
  await seedCredentials(dataDir, [{ name: 'admin', password: 'admin-password', access: [{ namespace: '*', scopes: ['read', 'write'] }] }]);
  reg = await startRegistry(
    {
      auth: {
        enabled: true,
        namespaces: [{ prefix: 'pub/', visibility: 'public' }],
        oidc: {
          issuers: [
            {
              url: issuer.url,
              audience: 'registry',
              policies: [{ claims: { repository: 'acme/*', ref: 'refs/heads/main' }, namespace: 'acme/', scopes: ['read', 'write'] }],
            },
          ],
        },
      },
    },
    { dataDir },
  );
  const layout = await OciLayout.create(join(work, 'layout'));
  await layout.addImage({ layerSizes: [40_000], seed: 'oidc-docker' }, 'v1');
  await layout.finish();
  const skopeo = await Skopeo.create();
  try {
    await skopeo.run(['copy', '--dest-tls-verify=false', '--dest-creds', 'admin:admin-password', `oci:${layout.dir}:v1`, `docker://${reg.host}/pub/base:1`]);
  } finally {
    await skopeo.close();
  }
  dockerd = await startDockerd({ 'insecure-registries': [reg.host] });
}, 120_000);

afterAll(async () => {
  await dockerd?.close();
  await reg?.close();
  await issuer?.close();
  if (work) await rm(work, { recursive: true, force: true });
});

describe('docker login -u oidc with an OIDC token', () => {
  it('pushes to the allowed namespace and is refused elsewhere', async () => {
    await dockerd.mustDocker(['pull', `${reg.host}/pub/base:1`]);
    await dockerd.mustDocker(['login', reg.host, '-u', 'oidc', '--password-stdin'], { input: await issuer.sign(githubClaims('acme/app')) });
    await dockerd.mustDocker(['tag', `${reg.host}/pub/base:1`, `${reg.host}/acme/app:1`]);
    await dockerd.mustDocker(['tag', `${reg.host}/pub/base:1`, `${reg.host}/other/app:1`]);
    await dockerd.mustDocker(['push', `${reg.host}/acme/app:1`]);
    const tags = await fetch(`${reg.url}/v2/acme/app/tags/list`, { headers: { authorization: basic('admin', 'admin-password') } });
    expect(((await tags.json()) as { tags: string[] }).tags).toEqual(['1']);
    const refused = await dockerd.docker(['push', `${reg.host}/other/app:1`]);
    expect(refused.code).not.toBe(0);
    expect(refused.stderr + refused.stdout).toMatch(/denied|unauthorized/i);
  });

  it('a token no policy matches fails the login', async () => {
    const r = await dockerd.docker(['login', reg.host, '-u', 'oidc', '--password-stdin'], { input: await issuer.sign(githubClaims('evil/app')) });
    expect(r.code).not.toBe(0);
    expect(r.stderr).toMatch(/no OIDC policy|unauthorized/i);
  });
});
