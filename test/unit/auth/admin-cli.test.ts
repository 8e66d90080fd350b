import { execFile } from 'node:child_process';
import { readFile, stat } from 'node:fs/promises';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { afterAll, describe, expect, it } from 'vitest';
import { scratchDirs } from '../../helpers/auth.js';
import { runAdmin } from '../../../src/cli/admin-commands.js';

const scratch = scratchDirs();
afterAll(() => scratch.cleanup());

async function admin(args: string[], stdin = ''): Promise<{ code: number; out: string; err: string }> {
  const out: string[] = [];
  const err: string[] = [];
  const code = await runAdmin(args, { out: (l) => out.push(l), err: (l) => err.push(l), readStdin: async () => stdin, env: {} });
  return { code, out: out.join('\n'), err: err.join('\n') };
}

describe('registry-admin', () => {
  it('creates, lists and revokes users and tokens, printing each secret once and storing only hashes', async () => {
    const dir = await scratch.make('auth-cli-');
    const user = await admin(['--data-dir', dir, 'user', 'add', 'alice', '--access', 'acme=read,write', '--access', 'tools/=read']);
    expect(user.code).toBe(0);
    const password = /password \(shown once\): (\S+)/.exec(user.out)?.[1];
    expect(password).toBeDefined();

    const piped = await admin(['--data-dir', dir, 'user', 'add', 'bob', '--admin', '--password-stdin'], 'bobs-password\n');
    expect(piped.code).toBe(0);
    expect(piped.out).not.toContain('bobs-password');

    const token = await admin(['--data-dir', dir, 'token', 'create', '--user', 'alice', '--name', 'ci', '--scopes', 'read,write', '--namespaces', 'acme', '--expires-in', '30d']);
    expect(token.code).toBe(0);
    const secret = /token \(shown once\): (rgt_\S+)/.exec(token.out)?.[1];
    const id = /created token ([0-9a-f]+)/.exec(token.out)?.[1];
    expect(secret).toBeDefined();
    expect(id).toBeDefined();

    const users = await admin(['--data-dir', dir, 'user', 'list']);
    expect(users.out).toMatch(/^alice\tactive\tacme=read,write tools\/=read$/m);
    expect(users.out).toMatch(/^bob\tactive\t\*=read,write,delete$/m);
    const tokens = await admin(['--data-dir', dir, 'token', 'list', '--json']);
    const listed = JSON.parse(tokens.out) as Array<Record<string, unknown>>;
    expect(listed).toHaveLength(1);
    expect(listed[0]).toMatchObject({ id, name: 'ci', user: 'alice', scopes: ['read', 'write'], namespaces: ['acme'] });
    expect(listed[0]).not.toHaveProperty('hash');

    const file = join(dir, 'auth', 'credentials.json');
    const text = await readFile(file, 'utf8');
    expect(text).not.toContain(secret!);
    expect(text).not.toContain(password!);
    expect(text).not.toContain('bobs-password');
    expect((await stat(file)).mode & 0o077).toBe(0);

    expect((await admin(['--data-dir', dir, 'token', 'revoke', id!])).code).toBe(0);
    expect((await admin(['--data-dir', dir, 'token', 'list'])).out).toMatch(/\trevoked /);
    expect((await admin(['--data-dir', dir, 'user', 'revoke', 'alice'])).code).toBe(0);
    expect((await admin(['--data-dir', dir, 'user', 'list'])).out).toMatch(/^alice\trevoked/m);
  });

  it('refuses bad input with a usage message and a non-zero code', async () => {
    const dir = await scratch.make('auth-cli-');
    expect((await admin(['--data-dir', dir, 'token', 'create', '--user', 'a', '--name', 'x', '--scopes', 'admin', '--namespaces', 'acme'])).code).toBe(2);
    expect((await admin(['--data-dir', dir, 'user', 'add', 'a', '--access', 'acme'])).code).toBe(2);
    expect((await admin(['--data-dir', dir, 'frobnicate'])).code).toBe(2);
    expect((await admin(['--data-dir', dir, 'token', 'revoke', 'nope'])).code).toBe(1);
    await admin(['--data-dir', dir, 'user', 'add', 'a']);
    expect((await admin(['--data-dir', dir, 'user', 'add', 'a'])).err).toMatch(/exists/);
  });

  it('runs as a program (the bin entry), data folder from DATA_DIR', async () => {
    const dir = await scratch.make('auth-cli-');
    const run = promisify(execFile);
    const entry = join(process.cwd(), 'src', 'cli', 'admin.ts');
    const env = { ...process.env, DATA_DIR: dir };
    const created = await run(process.execPath, ['--import', 'tsx', entry, 'user', 'add', 'carol', '--access', '*=read'], { env });
    expect(created.stdout).toMatch(/created user carol/);
    const listed = await run(process.execPath, ['--import', 'tsx', entry, 'user', 'list'], { env });
    expect(listed.stdout).toMatch(/^carol\tactive\t\*=read$/m);
    await expect(run(process.execPath, ['--import', 'tsx', entry, 'nonsense'], { env })).rejects.toMatchObject({ code: 2 });
  });
});
