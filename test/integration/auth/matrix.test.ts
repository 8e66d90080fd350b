import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { basic, fetchToken, pushReferrer, pushSmallImage, seedCredentials, type SeededImage } from '../../helpers/auth.js';
import { errorCode } from '../../helpers/push.js';
import { ManualClock } from '../../helpers/mirror.js';
import { startRegistry, tmpDir, type RunningRegistry } from '../../helpers/registry.js';

/**
 * The access-control matrix: caller × action × visibility, each cell one exact status. Every cell runs
 * twice: with credentials sent as Basic on the /v2/ request itself, and through the token dance (GET /token
 * with Basic, then Bearer), as docker, podman and skopeo do. The table is written out by hand, not computed,
 * so a bug in the policy cannot hide in a shared oracle.
 */

const CALLERS = ['anonymous', 'read', 'write', 'delete', 'otherNamespace', 'expired', 'revoked', 'wrongPassword'] as const;
// The issue's seven actions, then two more routes that must follow the same rules: blob GET and upload start.
const ACTIONS = ['pull', 'push', 'mount', 'delete', 'catalog', 'tags', 'referrers', 'blob', 'upload'] as const;
const VISIBILITIES = ['private', 'public'] as const;
type Caller = (typeof CALLERS)[number];
type Action = (typeof ACTIONS)[number];
type Visibility = (typeof VISIBILITIES)[number];

// One column per action, in ACTIONS order. 200+ / 200-: the catalog answers and does / does not list the repository.
//                          pull push mount delete catalog tags referrers blob upload
const ALL_401 = '401 401 401 401 401 401 401 401 401';
const EXPECTED: Record<Caller, Record<Visibility, string>> = {
  anonymous: { private: ALL_401, public: '200 401 401 401 401 200 200 200 401' },
  read: { private: '200 403 403 403 200+ 200 200 200 403', public: '200 403 403 403 200+ 200 200 200 403' },
  write: { private: '200 201 201 403 200+ 200 200 200 202', public: '200 201 201 403 200+ 200 200 200 202' },
  delete: { private: '200 403 403 202 200+ 200 200 200 403', public: '200 403 403 202 200+ 200 200 200 403' },
  otherNamespace: { private: '403 403 403 403 200- 403 403 403 403', public: '200 403 403 403 200+ 200 200 200 403' },
  expired: { private: ALL_401, public: ALL_401 },
  revoked: { private: ALL_401, public: ALL_401 },
  wrongPassword: { private: ALL_401, public: ALL_401 },
};

const NS: Record<Visibility, string> = { private: 'priv', public: 'pub' };

let reg: RunningRegistry;
let admin: string;
let creds: Record<Caller, string | undefined>;
const images: Partial<Record<Visibility, SeededImage>> = {};
const deletable = new Map<string, string>();

beforeAll(async () => {
  const clock = new ManualClock();
  const dataDir = await tmpDir('auth-matrix-');
  const all = ['read', 'write', 'delete'] as Array<'read' | 'write' | 'delete'>;
  const both = ['priv', 'pub'];
  const tokens = await seedCredentials(
    dataDir,
    [
      { name: 'admin', password: 'admin-password', access: [{ namespace: '*', scopes: all }] },
      // alice may do everything everywhere: what each caller can do comes from its token alone.
      { name: 'alice', password: 'alice-password', access: [{ namespace: '*', scopes: all }] },
    ],
    [
      { name: 'read', user: 'alice', scopes: ['read'], namespaces: both },
      { name: 'write', user: 'alice', scopes: ['write'], namespaces: both },
      { name: 'delete', user: 'alice', scopes: ['delete'], namespaces: both },
      { name: 'other', user: 'alice', scopes: all, namespaces: ['other'] },
      { name: 'expired', user: 'alice', scopes: all, namespaces: both, expiresAt: clock.now() - 1000 },
      { name: 'revoked', user: 'alice', scopes: all, namespaces: both, revoked: true },
    ],
  );
  reg = await startRegistry(
    {
      auth: {
        enabled: true,
        reloadSeconds: 0,
        namespaces: [
          { prefix: 'priv/', visibility: 'private' },
          { prefix: 'pub/', visibility: 'public' },
        ],
        rateLimit: { maxFailuresPerIp: 100_000, maxFailuresPerUser: 100_000 },
      },
    },
    { dataDir, clock },
  );
  admin = basic('admin', 'admin-password');
  creds = {
    anonymous: undefined,
    read: basic('alice', tokens.read!.secret),
    write: basic('alice', tokens.write!.secret),
    delete: basic('alice', tokens.delete!.secret),
    otherNamespace: basic('alice', tokens.other!.secret),
    expired: basic('alice', tokens.expired!.secret),
    revoked: basic('alice', tokens.revoked!.secret),
    wrongPassword: basic('alice', 'not-the-password'),
  };
  for (const v of VISIBILITIES) {
    const repo = `${NS[v]}/app`;
    images[v] = await pushSmallImage(reg.url, repo, '1', admin);
    await pushReferrer(reg.url, repo, images[v], admin);
    // Each delete cell gets its own manifest, so a delete that succeeds does not change later cells.
    for (const mode of ['basic', 'bearer']) {
      for (const caller of CALLERS) {
        const img = await pushSmallImage(reg.url, repo, `del-${mode}-${caller}`, admin, `${mode}-${caller}`);
        deletable.set(`${mode}/${caller}/${v}`, img.digest);
      }
    }
  }
});

afterAll(async () => {
  await reg?.close();
});

interface Request {
  method: string;
  path: string;
  body?: Uint8Array<ArrayBuffer>;
  contentType?: string;
  /** Scopes a client asks the token endpoint for, and the one the 401 challenge must name. */
  scopes: string[];
  challenge: string;
}

function requestFor(action: Action, v: Visibility, mode: string, caller: Caller): Request {
  const repo = `${NS[v]}/app`;
  const img = images[v]!;
  switch (action) {
    case 'pull':
      return { method: 'GET', path: `/v2/${repo}/manifests/1`, scopes: [`repository:${repo}:pull`], challenge: `repository:${repo}:pull` };
    case 'push':
      return {
        method: 'PUT',
        path: `/v2/${repo}/manifests/pushed-${mode}-${caller}`,
        body: img.manifest,
        contentType: 'application/vnd.oci.image.manifest.v1+json',
        scopes: [`repository:${repo}:pull,push`],
        challenge: `repository:${repo}:push`,
      };
    case 'mount': {
      const target = `${NS[v]}/mounted-${mode}-${caller.toLowerCase()}`;
      return {
        method: 'POST',
        path: `/v2/${target}/blobs/uploads/?mount=${img.layer}&from=${repo}`,
        scopes: [`repository:${target}:pull,push`, `repository:${repo}:pull`],
        challenge: `repository:${target}:push`,
      };
    }
    case 'delete':
      return {
        method: 'DELETE',
        path: `/v2/${repo}/manifests/${deletable.get(`${mode}/${caller}/${v}`)}`,
        scopes: [`repository:${repo}:delete`],
        challenge: `repository:${repo}:delete`,
      };
    case 'catalog':
      return { method: 'GET', path: '/v2/_catalog?n=1000', scopes: ['registry:catalog:*'], challenge: 'registry:catalog:*' };
    case 'tags':
      return { method: 'GET', path: `/v2/${repo}/tags/list`, scopes: [`repository:${repo}:pull`], challenge: `repository:${repo}:pull` };
    case 'referrers':
      return { method: 'GET', path: `/v2/${repo}/referrers/${img.digest}`, scopes: [`repository:${repo}:pull`], challenge: `repository:${repo}:pull` };
    case 'blob':
      return { method: 'GET', path: `/v2/${repo}/blobs/${img.layer}`, scopes: [`repository:${repo}:pull`], challenge: `repository:${repo}:pull` };
    case 'upload':
      return { method: 'POST', path: `/v2/${repo}/blobs/uploads/`, scopes: [`repository:${repo}:pull,push`], challenge: `repository:${repo}:push` };
  }
}

const cells = CALLERS.flatMap((caller) =>
  VISIBILITIES.flatMap((visibility) =>
    ACTIONS.map((action, i) => ({ caller, visibility, action, expected: EXPECTED[caller][visibility].split(' ')[i]! })),
  ),
);

describe.each(['basic', 'bearer'] as const)('access matrix, credentials as %s', (mode) => {
  it.each(cells)('$caller $action on a $visibility repository → $expected', async ({ caller, visibility, action, expected }) => {
    const req = requestFor(action, visibility, mode, caller);
    let authorization = creds[caller];
    if (mode === 'bearer') {
      const t = await fetchToken(reg.url, req.scopes, creds[caller]);
      if (t.status !== 200) {
        // Bad credentials never get a token; the cell must be a 401 then.
        expect(t.status).toBe(401);
        expect(expected).toBe('401');
        return;
      }
      authorization = `Bearer ${t.token}`;
    }
    const headers: Record<string, string> = { accept: 'application/vnd.oci.image.manifest.v1+json' };
    if (authorization) headers.authorization = authorization;
    if (req.contentType) headers['content-type'] = req.contentType;
    const res = await fetch(`${reg.url}${req.path}`, { method: req.method, headers, body: req.body });
    const status = String(res.status);
    expect(status, `${caller} ${action} ${visibility}: ${await res.clone().text()}`).toBe(expected.slice(0, 3));

    if (status === '401') {
      const challenge = res.headers.get('www-authenticate') ?? '';
      expect(challenge.startsWith(`Bearer realm="${reg.url}/token",service="registry",scope="${req.challenge}"`), challenge).toBe(true);
      expect(await errorCode(res)).toBe('UNAUTHORIZED');
    } else if (status === '403') {
      expect(await errorCode(res)).toBe('DENIED');
    } else if (action === 'catalog') {
      const { repositories } = (await res.json()) as { repositories: string[] };
      expect(repositories.includes(`${NS[visibility]}/app`)).toBe(expected.endsWith('+'));
    } else if (action === 'mount') {
      expect(res.headers.get('docker-content-digest')).toBe(images[visibility]!.layer);
    }
  });
});

describe('mount source needs pull', () => {
  it('a write token for one namespace cannot mount a blob from a private namespace it cannot read (falls back to an upload)', async () => {
    const res = await fetch(`${reg.url}/v2/other/stolen/blobs/uploads/?mount=${images.private!.layer}&from=priv/app`, {
      method: 'POST',
      headers: { authorization: creds.otherNamespace! },
    });
    expect(res.status).toBe(202);
    expect(res.headers.get('location')).toMatch(/\/v2\/other\/stolen\/blobs\/uploads\//);
    const head = await fetch(`${reg.url}/v2/other/stolen/blobs/${images.private!.layer}`, { method: 'HEAD', headers: { authorization: creds.otherNamespace! } });
    expect(head.status).toBe(404);
  });

  it('the same token may mount from a public namespace', async () => {
    const res = await fetch(`${reg.url}/v2/other/copied/blobs/uploads/?mount=${images.public!.layer}&from=pub/app`, {
      method: 'POST',
      headers: { authorization: creds.otherNamespace! },
    });
    expect(res.status).toBe(201);
  });
});
