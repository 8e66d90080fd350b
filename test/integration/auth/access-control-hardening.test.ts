import { readFile, writeFile } from 'node:fs/promises';
import { request as httpRequest } from 'node:http';
import { gzipSync } from 'node:zlib';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { credentialStorePath, FsCredentialStore } from '../../../src/auth/fs-credential-store.js';
import { runAdmin } from '../../../src/cli/admin-commands.js';
import { createLogger } from '../../../src/log.js';
import { basic, scratchDirs, seedCredentials } from '../../helpers/auth.js';
import { metricValue } from '../../helpers/metric-value.js';
import { startRegistry, type RunningRegistry } from '../../helpers/registry.js';

/** Issue 10, "Access control", items 6–10: one describe per item, named after it. */

const dirs = scratchDirs();
const logLines: string[] = [];
let reg: RunningRegistry;
let storePath: string;
const P72 = 'p'.repeat(72);
const LONG = 'L'.repeat(40) + 'x'.repeat(60);

async function admin(args: string[], stdin = ''): Promise<{ code: number; out: string[]; err: string[] }> {
  const out: string[] = [];
  const err: string[] = [];
  const code = await runAdmin(args, { out: (l) => out.push(l), err: (l) => err.push(l), readStdin: async () => stdin, env: {} });
  return { code, out, err };
}

async function loginStatus(url: string, user: string, password: string): Promise<number> {
  return (await fetch(`${url}/token?service=registry&scope=repository:acme/app:pull`, { headers: { authorization: basic(user, password) } })).status;
}

function errorCode(body: unknown): string | undefined {
  return (body as { errors?: Array<{ code: string }> }).errors?.[0]?.code;
}

beforeAll(async () => {
  const dataDir = await dirs.make('auth-hard-');
  storePath = credentialStorePath(dataDir);
  // alice and bob write to the same namespace; legacy has a bcrypt hash of a 72-byte password (written by older versions).
  await seedCredentials(dataDir, [
    { name: 'alice', password: 'alice-password', access: [{ namespace: 'acme', scopes: ['read', 'write'] }] },
    { name: 'bob', password: 'bob-password', access: [{ namespace: 'acme', scopes: ['read', 'write'] }] },
    { name: 'legacy', password: P72, access: [{ namespace: 'acme', scopes: ['read'] }] },
  ]);
  const added = await admin(['--data-dir', dataDir, 'user', 'add', 'carol', '--access', 'acme=read', '--password-stdin'], `${LONG}\n`);
  expect(added.code, added.err.join('\n')).toBe(0);
  const logger = createLogger('info', { write: (line: string) => void logLines.push(line) });
  reg = await startRegistry(
    { auth: { enabled: true, reloadSeconds: 0, rateLimit: { maxFailuresPerIp: 1000, maxFailuresPerUser: 1000 } } },
    { dataDir, logger },
  );
});

afterAll(async () => {
  await reg?.close();
  await dirs.cleanup();
});

describe('6. POST /token answers 500 to a 20 KB form, 1,500 parameters, charset=utf-16 or koi8-r, Content-Encoding: gzip with junk', () => {
  const form = 'application/x-www-form-urlencoded';
  const cases: Array<[string, Record<string, string>, string | Buffer, number, string]> = [
    ['a 20 KB form', { 'content-type': form }, `grant_type=password&username=a&password=${'x'.repeat(20 * 1024)}`, 413, 'SIZE_INVALID'],
    ['1,500 parameters', { 'content-type': form }, Array.from({ length: 1500 }, (_, i) => `p${i}=1`).join('&'), 413, 'SIZE_INVALID'],
    ['charset=utf-16', { 'content-type': `${form}; charset=utf-16` }, Buffer.from('grant_type=password', 'utf16le'), 415, 'UNSUPPORTED'],
    ['charset=koi8-r', { 'content-type': `${form}; charset=koi8-r` }, 'grant_type=password', 415, 'UNSUPPORTED'],
    ['gzip with junk', { 'content-type': form, 'content-encoding': 'gzip' }, 'junk junk junk', 415, 'UNSUPPORTED'],
    ['real gzip (no inflation on this endpoint)', { 'content-type': form, 'content-encoding': 'gzip' }, gzipSync('grant_type=password'), 415, 'UNSUPPORTED'],
  ];

  it.each(cases)('%s → 4xx with the spec error body, no stack in the log, counted under /token', async (_name, headers, body, status, code) => {
    const before = await metricValue(reg.registry.metrics.httpRequests, { method: 'POST', route: '/token', status: String(status) });
    const res = await fetch(`${reg.url}/token`, { method: 'POST', headers, body: typeof body === 'string' ? body : new Uint8Array(body) });
    expect(res.status).toBe(status);
    expect(res.headers.get('content-type')).toMatch(/application\/json/);
    expect(errorCode(await res.json())).toBe(code);
    expect(await metricValue(reg.registry.metrics.httpRequests, { method: 'POST', route: '/token', status: String(status) })).toBe(before + 1);
  });

  it('left no error-level line and no stack trace in the log', () => {
    const bad = logLines.filter((l) => /"level":"(error|fatal)"|"stack"/.test(l));
    expect(bad).toEqual([]);
  });

  it('every other body parser: a manifest PUT with a junk gzip encoding or an odd charset is a 4xx, never 500', async () => {
    const variants: Array<Record<string, string>> = [
      { 'content-type': 'application/vnd.oci.image.manifest.v1+json', 'content-encoding': 'gzip' },
      { 'content-type': 'application/vnd.oci.image.manifest.v1+json; charset=koi8-r' },
    ];
    for (const headers of variants) {
      const res = await fetch(`${reg.url}/v2/acme/app/manifests/x`, { method: 'PUT', headers: { ...headers, authorization: basic('alice', 'alice-password') }, body: 'junk' });
      expect(res.status).toBe(400);
      expect(errorCode(await res.json())).toBe('MANIFEST_INVALID');
    }
  });
});

describe('7. A different password logs in (bcrypt ignores bytes after 72)', () => {
  it('a legacy bcrypt hash: the exact 72-byte password works, the same 72 bytes plus any tail does not', async () => {
    expect(await loginStatus(reg.url, 'legacy', P72)).toBe(200);
    expect(await loginStatus(reg.url, 'legacy', `${P72}tail`)).toBe(401);
    expect(await loginStatus(reg.url, 'legacy', `${P72}${P72}`)).toBe(401);
    expect(await loginStatus(reg.url, 'legacy', 'p'.repeat(71))).toBe(401);
  });

  it('user add writes scrypt, which reads every byte: only the exact long password logs in', async () => {
    const stored = JSON.parse(await readFile(storePath, 'utf8')) as { users: Array<{ name: string; passwordHash: string }> };
    expect(stored.users.find((u) => u.name === 'carol')?.passwordHash).toMatch(/^\$scrypt\$ln=15,r=8,p=1\$/);
    expect(await loginStatus(reg.url, 'carol', LONG)).toBe(200);
    expect(await loginStatus(reg.url, 'carol', `${LONG.slice(0, 72)}${'y'.repeat(28)}`)).toBe(401);
    expect(await loginStatus(reg.url, 'carol', LONG.slice(0, 72))).toBe(401);
  });

  it('registry-admin refuses a password it cannot hash usefully and hashes one for the config', async () => {
    expect((await admin(['--data-dir', reg.dataDir, 'user', 'add', 'huge', '--password-stdin'], 'z'.repeat(2000))).code).toBe(2);
    const hashed = await admin(['--data-dir', reg.dataDir, 'password', 'hash'], `${LONG}\n`);
    expect(hashed.code).toBe(0);
    expect(hashed.out[0]).toMatch(/^\$scrypt\$/);
  });
});

describe('8. Upload sessions are not tied to who started them', () => {
  it("another writer of the same repository cannot read, append to, finish or cancel alice's session; alice can", async () => {
    const alice = basic('alice', 'alice-password');
    const bob = basic('bob', 'bob-password');
    const start = await fetch(`${reg.url}/v2/acme/app/blobs/uploads/`, { method: 'POST', headers: { authorization: alice } });
    expect(start.status).toBe(202);
    const location = new URL(start.headers.get('location')!, reg.url);
    const digest = 'sha256:2cf24dba5fb0a30e26e83b2ac5b9e29e1b161e5c1fa7425e73043362938b9824'; // "hello"
    const attempts: Array<[string, RequestInit]> = [
      ['GET', {}],
      ['PATCH', { body: 'junk', headers: { 'content-type': 'application/octet-stream' } }],
      ['PUT', { body: 'hello' }],
      ['DELETE', {}],
    ];
    for (const [method, init] of attempts) {
      const url = method === 'PUT' ? `${location}?digest=${digest}` : String(location);
      const res = await fetch(url, { ...init, method, headers: { ...(init.headers as Record<string, string>), authorization: bob } });
      expect(res.status, method).toBe(404);
      expect(errorCode(await res.json()), method).toBe('BLOB_UPLOAD_UNKNOWN');
    }
    const state = await fetch(location, { headers: { authorization: alice } });
    expect(state.status).toBe(204);
    expect(state.headers.get('range')).toBe('0-0');
    const patch = await fetch(location, { method: 'PATCH', body: 'hel', headers: { authorization: alice, 'content-type': 'application/octet-stream' } });
    expect(patch.status).toBe(202);
    const put = await fetch(`${location}?digest=${digest}`, { method: 'PUT', body: 'lo', headers: { authorization: alice } });
    expect(put.status).toBe(201);
  });
});

describe('9. The token realm is built from Host and X-Forwarded-Proto although trust proxy is off', () => {
  function ping(url: string, headers: Record<string, string>): Promise<{ status: number; challenge?: string }> {
    return new Promise((resolve, reject) => {
      const req = httpRequest(`${url}/v2/`, { headers }, (res) => {
        res.resume();
        resolve({ status: res.statusCode!, challenge: res.headers['www-authenticate'] });
      });
      req.on('error', reject);
      req.end();
    });
  }

  it('trustProxy off (default): X-Forwarded-Proto/-Host are ignored; a malformed Host falls back to the address served', async () => {
    const r = await ping(reg.url, { 'x-forwarded-proto': 'https', 'x-forwarded-host': 'evil.example' });
    expect(r.challenge).toContain(`realm="http://${reg.host}/token"`);
    const odd = await ping(reg.url, { host: 'evil.example/x?"' });
    expect(odd.challenge).toContain(`realm="http://${reg.host}/token"`);
  });

  it('trustProxy names the proxy: its forwarded scheme, host and client address count, for the realm and the login limit', async () => {
    const proxied = await startRegistry({
      server: { trustProxy: ['loopback'] },
      auth: { enabled: true, reloadSeconds: 0, rateLimit: { maxFailuresPerIp: 2, maxFailuresPerUser: 100 } },
    });
    try {
      const r = await ping(proxied.url, { 'x-forwarded-proto': 'https', 'x-forwarded-host': 'registry.example.com' });
      expect(r.challenge).toContain('realm="https://registry.example.com/token"');
      const fail = (ip: string) => fetch(`${proxied.url}/token?service=registry`, { headers: { authorization: basic('nobody', 'wrong'), 'x-forwarded-for': ip } });
      expect((await fail('203.0.113.5')).status).toBe(401);
      expect((await fail('203.0.113.5')).status).toBe(401);
      expect((await fail('203.0.113.5')).status).toBe(429);
      // Another client behind the same proxy is not blocked by the first one's failures.
      expect((await fail('198.51.100.7')).status).toBe(401);
    } finally {
      await proxied.close();
    }
  });

  it('without trustProxy every client behind a proxy shares one address, and publicUrl beats any header', async () => {
    const plain = await startRegistry({
      server: { publicUrl: 'https://registry.example.org' },
      auth: { enabled: true, reloadSeconds: 0, rateLimit: { maxFailuresPerIp: 2, maxFailuresPerUser: 100 } },
    });
    try {
      const r = await ping(plain.url, { 'x-forwarded-proto': 'http', 'x-forwarded-host': 'evil.example', host: 'evil.example' });
      expect(r.challenge).toContain('realm="https://registry.example.org/token"');
      const fail = (ip: string) => fetch(`${plain.url}/token?service=registry`, { headers: { authorization: basic('nobody', 'wrong'), 'x-forwarded-for': ip } });
      expect((await fail('203.0.113.5')).status).toBe(401);
      expect((await fail('198.51.100.7')).status).toBe(401);
      expect((await fail('192.0.2.1')).status).toBe(429);
    } finally {
      await plain.close();
    }
  });
});

describe('10. A corrupt credentials.json', () => {
  it('a running server keeps the last good copy and logs the error once; a repaired file is picked up', async () => {
    const good = await readFile(storePath, 'utf8');
    expect(await loginStatus(reg.url, 'alice', 'alice-password')).toBe(200);
    await writeFile(storePath, '{"version": 1, "users": [ {"name": "alice", "passw');
    for (let i = 0; i < 3; i++) expect(await loginStatus(reg.url, 'alice', 'alice-password')).toBe(200);
    expect(logLines.filter((l) => l.includes('credential store unreadable'))).toHaveLength(1);
    expect(logLines.find((l) => l.includes('credential store unreadable'))).toMatch(/"level":"error"/);

    // registry-admin refuses to touch a file it cannot read, and leaves it as it is.
    const refused = await admin(['--data-dir', reg.dataDir, 'user', 'revoke', 'alice']);
    expect(refused.code).toBe(1);
    expect(refused.err.join('\n')).toMatch(/not valid JSON/);
    expect(await readFile(storePath, 'utf8')).toBe('{"version": 1, "users": [ {"name": "alice", "passw');

    await writeFile(storePath, good);
    expect((await admin(['--data-dir', reg.dataDir, 'user', 'revoke', 'alice'])).code).toBe(0);
    expect(await loginStatus(reg.url, 'alice', 'alice-password')).toBe(401);
  });

  it('registry-admin never writes a file it cannot read back', async () => {
    const store = new FsCredentialStore(storePath, 0);
    const before = await readFile(storePath, 'utf8');
    // A change that breaks the schema (an empty user name) is caught when the written file is read back.
    await expect(store.update((d) => void d.users.push({ name: '', access: [], createdAt: 'now' }))).rejects.toThrow(/invalid/);
    expect(await readFile(storePath, 'utf8')).toBe(before);
  });
});
