import { randomBytes } from 'node:crypto';
import { mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { seedCredentials } from '../helpers/auth.js';
import { layoutRef, OciLayout } from '../helpers/oci-layout.js';
import { startRegistry, tmpDir, type RunningRegistry } from '../helpers/registry.js';
import { runTool, type ToolResult } from '../helpers/run-tool.js';

/**
 * Real clients against access control: skopeo (--creds, login + authfile, anonymous inspect) and podman
 * (login, push, pull) doing the Bearer token dance with our /token endpoint. Images come from a local OCI
 * layout, so nothing leaves the machine.
 */

function ok(r: ToolResult): ToolResult {
  expect(r.code, `${r.stdout}\n${r.stderr}`).toBe(0);
  return r;
}

let reg: RunningRegistry;
let work: string;
let layoutDir: string;
let tokenSecret: string;
let imageDigest: string;

beforeAll(async () => {
  const dataDir = await tmpDir('auth-e2e-');
  const tokens = await seedCredentials(
    dataDir,
    [{ name: 'alice', password: 'alice-password', access: [{ namespace: '*', scopes: ['read', 'write', 'delete'] }] }],
    [{ name: 'ci', user: 'alice', scopes: ['read', 'write'], namespaces: ['priv', 'pub'] }],
  );
  tokenSecret = tokens.ci!.secret;
  reg = await startRegistry(
    { auth: { enabled: true, reloadSeconds: 0, namespaces: [{ prefix: 'pub/', visibility: 'public' }] } },
    { dataDir },
  );
  work = await tmpDir('auth-e2e-work-');
  // podman names an image pulled from oci:DIR after DIR, and image names must be lower case.
  layoutDir = join(tmpdir(), `auth-e2e-layout-${randomBytes(4).toString('hex')}`);
  const layout = await OciLayout.create(layoutDir);
  await layout.addImage({ layerSizes: [64 * 1024], seed: 'auth-e2e' }, 'v1');
  await layout.finish();
  imageDigest = (await layoutRef(layoutDir, 'v1')).digest;
});

afterAll(async () => {
  await reg?.close();
  await rm(work, { recursive: true, force: true });
  await rm(layoutDir, { recursive: true, force: true });
});

async function manifestDigestIn(layout: string, tag: string): Promise<string> {
  return (await layoutRef(layout, tag)).digest;
}

describe('skopeo', () => {
  it('copy --dest-creds pushes a private image; --src-creds pulls it back; without credentials it is refused', async () => {
    ok(await runTool('skopeo', ['copy', '--dest-tls-verify=false', '--dest-creds', `alice:${tokenSecret}`, `oci:${layoutDir}:v1`, `docker://${reg.host}/priv/app:1`]));
    const out = join(work, 'pulled');
    ok(await runTool('skopeo', ['copy', '--src-tls-verify=false', '--src-creds', `alice:${tokenSecret}`, `docker://${reg.host}/priv/app:1`, `oci:${out}:pulled`]));
    expect(await manifestDigestIn(out, 'pulled')).toBe(imageDigest);

    const anon = await runTool('skopeo', ['copy', '--src-tls-verify=false', `docker://${reg.host}/priv/app:1`, `oci:${join(work, 'anon')}:x`]);
    expect(anon.code).not.toBe(0);
    expect(anon.stderr).toMatch(/denied|unauthorized/);
    const wrong = await runTool('skopeo', ['copy', '--src-tls-verify=false', '--src-creds', 'alice:wrong-password', `docker://${reg.host}/priv/app:1`, `oci:${join(work, 'wrong')}:x`]);
    expect(wrong.code).not.toBe(0);
    expect(wrong.stderr).toMatch(/unauthorized|invalid username\/password|incorrect/i);
  });

  it('login (private --authfile) then copy both ways; a wrong password fails the login', async () => {
    const authfile = join(work, 'skopeo-auth.json');
    ok(await runTool('skopeo', ['login', '--tls-verify=false', '--authfile', authfile, '-u', 'alice', '--password-stdin', reg.host], { input: 'alice-password\n' }));
    expect(JSON.parse(await readFile(authfile, 'utf8'))).toHaveProperty(['auths', reg.host]);
    ok(await runTool('skopeo', ['copy', '--authfile', authfile, '--dest-tls-verify=false', `oci:${layoutDir}:v1`, `docker://${reg.host}/priv/login:1`]));
    const out = join(work, 'login-pulled');
    ok(await runTool('skopeo', ['copy', '--authfile', authfile, '--src-tls-verify=false', `docker://${reg.host}/priv/login:1`, `oci:${out}:p`]));
    expect(await manifestDigestIn(out, 'p')).toBe(imageDigest);

    const bad = await runTool('skopeo', ['login', '--tls-verify=false', '--authfile', join(work, 'bad-auth.json'), '-u', 'alice', '--password-stdin', reg.host], { input: 'wrong\n' });
    expect(bad.code).not.toBe(0);
  });

  it('anonymous inspect works on a public repository and fails on a private one', async () => {
    ok(await runTool('skopeo', ['copy', '--dest-tls-verify=false', '--dest-creds', `alice:${tokenSecret}`, `oci:${layoutDir}:v1`, `docker://${reg.host}/pub/app:1`]));
    const pub = ok(await runTool('skopeo', ['inspect', '--no-tags', '--tls-verify=false', `docker://${reg.host}/pub/app:1`]));
    expect((JSON.parse(pub.stdout) as { Digest: string }).Digest).toBe(imageDigest);
    const priv = await runTool('skopeo', ['inspect', '--no-tags', '--tls-verify=false', `docker://${reg.host}/priv/app:1`]);
    expect(priv.code).not.toBe(0);
    expect(priv.stderr).toMatch(/denied|unauthorized/);
  });
});

describe('podman', () => {
  let base: string;
  let podman: (args: string[], options?: { input?: string }) => Promise<ToolResult>;

  beforeAll(async () => {
    // podman refuses a runroot path of 50 characters or more, so everything lives in a short temp folder.
    base = await mkdtemp('/tmp/pa-');
    for (const d of ['root', 'run', 'tmp']) await mkdir(join(base, d));
    const conf = join(base, 'registries.conf');
    await writeFile(conf, 'unqualified-search-registries = []\n');
    const env = { ...process.env, CONTAINERS_REGISTRIES_CONF: conf };
    const global = ['--root', join(base, 'root'), '--runroot', join(base, 'run'), '--tmpdir', join(base, 'tmp'), '--storage-driver', 'vfs'];
    podman = (args, options = {}) => runTool('podman', [...global, ...args], { ...options, env });
  });

  afterAll(async () => {
    await podman(['rmi', '-a', '-f']).catch(() => undefined);
    await rm(base, { recursive: true, force: true }).catch(() => undefined);
  });

  it('login + push + pull of a private image; without the login the pull is refused', async () => {
    const authfile = join(base, 'auth.json');
    ok(await podman(['login', '--tls-verify=false', '--authfile', authfile, '-u', 'alice', '--password-stdin', reg.host], { input: 'alice-password\n' }));
    const id = ok(await podman(['pull', '-q', `oci:${layoutDir}:v1`])).stdout.trim();
    const name = `${reg.host}/priv/podman:1`;
    ok(await podman(['tag', id, name]));
    ok(await podman(['push', '--tls-verify=false', '--authfile', authfile, name]));
    ok(await podman(['rmi', '-a', '-f']));
    ok(await podman(['pull', '--tls-verify=false', '--authfile', authfile, name]));
    const images = ok(await podman(['images', '--format', '{{.Repository}}:{{.Tag}} {{.ID}}'])).stdout;
    expect(images).toContain(`${reg.host}/priv/podman:1 ${id.slice(0, 12)}`);

    ok(await podman(['rmi', '-a', '-f']));
    const empty = join(base, 'empty-auth.json');
    await writeFile(empty, '{}');
    const anon = await podman(['pull', '--tls-verify=false', '--authfile', empty, name]);
    expect(anon.code).not.toBe(0);
    expect(anon.stderr).toMatch(/denied|unauthorized/);
  });
});
