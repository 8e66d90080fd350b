import { randomBytes } from 'node:crypto';
import { readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Podman, Skopeo } from '../helpers/clients.js';
import { OciLayout } from '../helpers/oci-layout.js';
import { githubClaims, OidcIssuer } from '../helpers/oidc-issuer.js';
import { startRegistry, type RunningRegistry } from '../helpers/registry.js';

/**
 * podman login and skopeo --creds with an OIDC token from a local issuer (issue 15): the CI job pushes to
 * the namespace its policy allows and is refused elsewhere. The user name is `oidc`, as the README says.
 */

let issuer: OidcIssuer;
let reg: RunningRegistry;
let layoutDir: string;
let skopeo: Skopeo;
let podman: Podman;

beforeAll(async () => {
  issuer = await OidcIssuer.start();
  reg = await startRegistry({
    auth: {
      enabled: true,
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
  });
  // podman names an image pulled from oci:DIR after DIR, and image names must be lower case.
  layoutDir = join(tmpdir(), `oidc-e2e-${randomBytes(4).toString('hex')}`);
  const layout = await OciLayout.create(layoutDir);
  await layout.addImage({ layerSizes: [32 * 1024], seed: 'oidc-e2e' }, 'v1');
  await layout.finish();
  skopeo = await Skopeo.create();
  podman = await Podman.create();
});

afterAll(async () => {
  await podman?.close();
  await skopeo?.close();
  await reg?.close();
  await issuer?.close();
  if (layoutDir) await rm(layoutDir, { recursive: true, force: true });
});

const ciToken = () => issuer.sign(githubClaims('acme/app'));

describe('skopeo --creds oidc:<token>', () => {
  it('pushes to acme/ and is refused elsewhere', async () => {
    const jwt = await ciToken();
    const args = (dest: string) => ['copy', '--dest-tls-verify=false', '--dest-creds', `oidc:${jwt}`, `oci:${layoutDir}:v1`, `docker://${reg.host}/${dest}`];
    await skopeo.run(args('acme/skopeo:1'));
    const tags = await skopeo.json<{ Tags: string[] }>(['list-tags', '--tls-verify=false', '--creds', `oidc:${jwt}`, `docker://${reg.host}/acme/skopeo`]);
    expect(tags.Tags).toEqual(['1']);
    await expect(skopeo.run(args('other/skopeo:1'))).rejects.toThrow(/denied|unauthorized|403 \(Forbidden\)/i);
  });

  it('a token from a branch no policy allows cannot push at all', async () => {
    const jwt = await issuer.sign(githubClaims('acme/app', 'refs/heads/feature'));
    await expect(
      skopeo.run(['copy', '--dest-tls-verify=false', '--dest-creds', `oidc:${jwt}`, `oci:${layoutDir}:v1`, `docker://${reg.host}/acme/feature:1`]),
    ).rejects.toThrow(/unauthorized|no OIDC policy/i);
  });
});

describe('podman login -u oidc', () => {
  it('logs in with the token, pushes to acme/, is refused elsewhere', async () => {
    const authfile = join(tmpdir(), `oidc-pm-auth-${randomBytes(4).toString('hex')}.json`);
    try {
      // -p rather than --password-stdin: the Podman helper passes no stdin; the token is short-lived anyway.
      await podman.run(['login', '--tls-verify=false', '--authfile', authfile, '-u', 'oidc', '-p', await ciToken(), reg.host]);
      expect(JSON.parse(await readFile(authfile, 'utf8'))).toHaveProperty(['auths', reg.host]);
      const id = (await podman.run(['pull', '-q', `oci:${layoutDir}:v1`])).stdout.trim();
      await podman.run(['tag', id, `${reg.host}/acme/podman:1`, `${reg.host}/other/podman:1`]);
      await podman.run(['push', '--tls-verify=false', '--authfile', authfile, `${reg.host}/acme/podman:1`]);
      await expect(podman.run(['push', '--tls-verify=false', '--authfile', authfile, `${reg.host}/other/podman:1`])).rejects.toThrow(/denied|unauthorized|403 \(Forbidden\)/i);
    } finally {
      await rm(authfile, { force: true });
    }
  });

  it('a token for another audience fails the login', async () => {
    const jwt = await issuer.sign(githubClaims('acme/app'), { audience: 'someone-else' });
    const authfile = join(tmpdir(), `oidc-bad-${randomBytes(4).toString('hex')}.json`);
    await expect(podman.run(['login', '--tls-verify=false', '--authfile', authfile, '-u', 'oidc', '-p', jwt, reg.host])).rejects.toThrow(/invalid username\/password|unauthorized/i);
    await rm(authfile, { force: true });
  });
});
