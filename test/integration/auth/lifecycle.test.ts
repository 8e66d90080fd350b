import { execFile } from 'node:child_process';
import { writeFile } from 'node:fs/promises';
import { request } from 'node:http';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { afterEach, describe, expect, it } from 'vitest';
import { runAdmin } from '../../../src/cli/admin-commands.js';
import { basic, fetchToken, pushSmallImage, seedCredentials } from '../../helpers/auth.js';
import { metricValue } from '../../helpers/metric-value.js';
import { captureLogger, ManualClock } from '../../helpers/mirror.js';
import { startRegistry, tmpDir, type RunningRegistry } from '../../helpers/registry.js';

/** Revocation, key rotation, expiry, rate limiting, logging and metrics on a running registry. */

const running: RunningRegistry[] = [];
afterEach(async () => {
  // Newest first, one at a time: a restarted registry shares its data folder with the first, which removes it.
  for (const r of running.splice(0).reverse()) await r.close();
});

async function admin(args: string[]): Promise<string> {
  const out: string[] = [];
  const code = await runAdmin(args, { out: (l) => out.push(l), err: (l) => out.push(l), readStdin: async () => '', env: {} });
  expect(code, out.join('\n')).toBe(0);
  return out.join('\n');
}

async function start(extra: Record<string, unknown> = {}, clock = new ManualClock()) {
  const dataDir = await tmpDir('auth-life-');
  const tokens = await seedCredentials(dataDir, [{ name: 'alice', password: 'alice-password', access: [{ namespace: 'acme', scopes: ['read', 'write', 'delete'] }] }], [
    { name: 'ci', user: 'alice', scopes: ['read'], namespaces: ['acme'], expiresAt: clock.now() + 3600_000 },
  ]);
  const log = captureLogger();
  const reg = await startRegistry({ auth: { enabled: true, reloadSeconds: 0, ...extra } }, { dataDir, clock, logger: log.logger });
  running.push(reg);
  await pushSmallImage(reg.url, 'acme/app', '1', basic('alice', 'alice-password'));
  return { reg, tokens, clock, log, dataDir };
}

const ACCEPT = { accept: 'application/vnd.oci.image.manifest.v1+json' };

async function pull(reg: RunningRegistry, authorization: string): Promise<Response> {
  return fetch(`${reg.url}/v2/acme/app/manifests/1`, { headers: { ...ACCEPT, authorization } });
}

describe('revocation and rotation through the CLI reach a running registry', () => {
  it('revoking a token stops Basic use and the JWTs already issued from it', async () => {
    const { reg, tokens, dataDir } = await start();
    const creds = basic('alice', tokens.ci!.secret);
    const { token } = await fetchToken(reg.url, ['repository:acme/app:pull'], creds);
    expect((await pull(reg, creds)).status).toBe(200);
    expect((await pull(reg, `Bearer ${token}`)).status).toBe(200);
    await admin(['--data-dir', dataDir, 'token', 'revoke', tokens.ci!.id]);
    expect((await pull(reg, creds)).status).toBe(401);
    const res = await pull(reg, `Bearer ${token}`);
    expect(res.status).toBe(401);
    expect(res.headers.get('www-authenticate')).toContain('error="invalid_token"');
    expect((await fetchToken(reg.url, ['repository:acme/app:pull'], creds)).status).toBe(401);
  });

  it('a user created by the CLI can log in at once; revoking the user ends its tokens too', async () => {
    const { reg, dataDir } = await start();
    const out = await admin(['--data-dir', dataDir, 'user', 'add', 'bob', '--access', 'acme=read']);
    const password = /password \(shown once\): (\S+)/.exec(out)![1]!;
    const tok = await admin(['--data-dir', dataDir, 'token', 'create', '--user', 'bob', '--name', 'laptop', '--scopes', 'read', '--namespaces', 'acme']);
    const secret = /(rgt_\S+)/.exec(tok)![1]!;
    expect((await pull(reg, basic('bob', password))).status).toBe(200);
    expect((await pull(reg, basic('bob', secret))).status).toBe(200);
    expect((await fetch(`${reg.url}/v2/acme/app/blobs/uploads/`, { method: 'POST', headers: { authorization: basic('bob', password) } })).status).toBe(403);
    await admin(['--data-dir', dataDir, 'user', 'revoke', 'bob']);
    expect((await pull(reg, basic('bob', password))).status).toBe(401);
    expect((await pull(reg, basic('bob', secret))).status).toBe(401);
  });

  it('rotating the signing key invalidates every token issued before', async () => {
    const { reg, dataDir } = await start();
    const creds = basic('alice', 'alice-password');
    const before = await fetchToken(reg.url, ['repository:acme/app:pull'], creds);
    expect((await pull(reg, `Bearer ${before.token}`)).status).toBe(200);
    await admin(['--data-dir', dataDir, 'key', 'rotate']);
    const res = await pull(reg, `Bearer ${before.token}`);
    expect(res.status).toBe(401);
    expect(res.headers.get('www-authenticate')).toContain('error="invalid_token"');
    const after = await fetchToken(reg.url, ['repository:acme/app:pull'], creds);
    expect((await pull(reg, `Bearer ${after.token}`)).status).toBe(200);
  });

  it('the key survives a restart: tokens stay valid across it', async () => {
    const { reg, dataDir, clock } = await start();
    const t = await fetchToken(reg.url, ['repository:acme/app:pull'], basic('alice', 'alice-password'));
    const again = await startRegistry({ auth: { enabled: true } }, { dataDir, clock, keepData: true });
    running.push(again);
    expect((await pull(again, `Bearer ${t.token}`)).status).toBe(200);
  });
});

describe('expiry (injected clock)', () => {
  it('JWTs expire after tokenTtlSeconds; access tokens at their expiresAt', async () => {
    const clock = new ManualClock();
    const { reg, tokens } = await start({ tokenTtlSeconds: 60 }, clock);
    const creds = basic('alice', tokens.ci!.secret);
    const { token } = await fetchToken(reg.url, ['repository:acme/app:pull'], creds);
    clock.advance(70_000);
    const res = await pull(reg, `Bearer ${token}`);
    expect(res.status).toBe(401);
    expect(res.headers.get('www-authenticate')).toContain('error="invalid_token"');
    expect((await pull(reg, creds)).status).toBe(200);
    clock.advance(3600_000);
    expect((await pull(reg, creds)).status).toBe(401);
  });
});

/** GET over a chosen loopback source address (127.0.0.2 is a second "client" on Linux). */
function getFrom(localAddress: string, url: string, authorization: string): Promise<{ status: number; retryAfter?: string }> {
  return new Promise((resolve, reject) => {
    const req = request(url, { localAddress, headers: { authorization, ...ACCEPT } }, (res) => {
      res.resume();
      res.on('end', () => resolve({ status: res.statusCode ?? 0, retryAfter: res.headers['retry-after'] as string | undefined }));
    });
    req.on('error', reject);
    req.end();
  });
}

describe('failed-login rate limiting', () => {
  it('blocks a user after maxFailuresPerUser with 429 and Retry-After, even with the right password, until the window ends', async () => {
    const clock = new ManualClock();
    const { reg, log, metrics } = await start({ rateLimit: { windowSeconds: 60, maxFailuresPerUser: 3, maxFailuresPerIp: 100 } }, clock).then((s) => ({ ...s, metrics: s.reg.registry.metrics }));
    for (let i = 0; i < 3; i++) expect((await pull(reg, basic('alice', `guess-${i}`))).status).toBe(401);
    const blocked = await pull(reg, basic('alice', 'alice-password'));
    expect(blocked.status).toBe(429);
    expect(blocked.headers.get('retry-after')).toBe('60');
    expect(((await blocked.json()) as { errors: Array<{ code: string }> }).errors[0]!.code).toBe('TOOMANYREQUESTS');
    // The token endpoint shares the counters.
    expect((await fetchToken(reg.url, [], basic('alice', 'alice-password'))).status).toBe(429);
    clock.advance(61_000);
    expect((await pull(reg, basic('alice', 'alice-password'))).status).toBe(200);

    expect(await metricValue(metrics.authLogins, { result: 'failure' })).toBe(3);
    expect(await metricValue(metrics.authLogins, { result: 'rate_limited' })).toBe(2);
    expect(await metricValue(metrics.authDenials, { reason: 'bad_password' })).toBe(3);
    expect(await metricValue(metrics.authDenials, { reason: 'rate_limited' })).toBe(2);
    const text = log.text();
    expect(text).toMatch(/"reason":"bad_password"/);
    expect(text).toMatch(/"reason":"rate_limited"/);
    for (const secret of ['guess-0', 'alice-password', Buffer.from('alice:guess-0').toString('base64')]) expect(text).not.toContain(secret);
  });

  it('blocks a source address after maxFailuresPerIp, whatever the user; other addresses are not affected', async () => {
    const { reg } = await start({ rateLimit: { windowSeconds: 60, maxFailuresPerUser: 100, maxFailuresPerIp: 4 } });
    const url = `${reg.url}/v2/acme/app/manifests/1`;
    for (const user of ['a', 'b', 'c', 'd']) expect((await getFrom('127.0.0.1', url, basic(user, 'x'))).status).toBe(401);
    const blocked = await getFrom('127.0.0.1', url, basic('alice', 'alice-password'));
    expect(blocked.status).toBe(429);
    expect(Number(blocked.retryAfter)).toBeGreaterThan(0);
    expect((await getFrom('127.0.0.2', url, basic('alice', 'alice-password'))).status).toBe(200);
  });
});

describe('denials are logged with a reason and counted', () => {
  it('anonymous, bad token and forbidden each leave a line and a count, never the credential', async () => {
    const { reg, log, tokens } = await start();
    const metrics = reg.registry.metrics;
    await fetch(`${reg.url}/v2/acme/app/tags/list`);
    await pull(reg, 'Bearer eyJhbGciOiJub25lIn0.eyJzdWIiOiJhbGljZSJ9.');
    await fetch(`${reg.url}/v2/acme/app/manifests/1`, { method: 'DELETE', headers: { authorization: basic('alice', tokens.ci!.secret) } });
    expect(await metricValue(metrics.authDenials, { reason: 'no_credentials' })).toBe(1);
    expect(await metricValue(metrics.authDenials, { reason: 'invalid_token' })).toBe(1);
    expect(await metricValue(metrics.authDenials, { reason: 'forbidden' })).toBe(1);
    const lines = log.text().split('\n').filter((l) => l.includes('access denied'));
    expect(lines).toHaveLength(3);
    expect(lines[2]).toContain('"scope":"repository:acme/app:delete"');
    expect(lines[2]).toContain('"user":"alice"');
    expect(log.text()).not.toContain(tokens.ci!.secret);
  });
});

describe('htpasswd (moving from Distribution)', () => {
  it('accepts bcrypt users from a file written by htpasswd -B, with the configured rights', async () => {
    const dir = await tmpDir('auth-htpasswd-');
    const { stdout } = await promisify(execFile)('htpasswd', ['-nbB', 'carol', 'carol-password']);
    const file = join(dir, 'htpasswd');
    await writeFile(file, stdout);
    const reg = await startRegistry({ auth: { enabled: true, htpasswd: { file } } }, { dataDir: dir });
    running.push(reg);
    const carol = basic('carol', 'carol-password');
    await pushSmallImage(reg.url, 'team/app', '1', carol);
    expect((await pull(reg, basic('carol', 'wrong'))).status).toBe(401);
    const t = await fetchToken(reg.url, ['repository:team/app:pull'], carol);
    const res = await fetch(`${reg.url}/v2/team/app/manifests/1`, { headers: { ...ACCEPT, authorization: `Bearer ${t.token}` } });
    expect(res.status).toBe(200);
  });
});
