import { resolve } from 'node:path';
import { parseArgs } from 'node:util';
import { loadConfig } from '../config/load.js';
import { credentialStorePath, FsCredentialStore, type StoredToken } from '../auth/fs-credential-store.js';
import type { Scope } from '../auth/policy.js';
import { hashPassword, hashTokenSecret, newPassword, newTokenId, newTokenSecret } from '../auth/secrets.js';
import { defaultSigningKeyPath, SigningKeyFile } from '../auth/signing-key.js';
import { fsckCommand } from './fsck-command.js';
import { gcCommand, restoreCommand, trashListCommand } from './lifecycle-commands.js';

export interface AdminIo {
  out(line: string): void;
  err(line: string): void;
  readStdin(): Promise<string>;
  readonly env: Readonly<Record<string, string | undefined>>;
  now?(): number;
}

export const USAGE = `usage: registry-admin [--data-dir DIR | --config FILE] COMMAND

  user add NAME [--access NAMESPACE=SCOPES]... [--admin] [--password-stdin]
        create a user; without --password-stdin a password is generated and printed once
  user list [--json]
  user revoke NAME           the user and all its tokens stop working at once
  token create --user NAME --name LABEL --scopes read[,write][,delete] --namespaces NS[,NS]
        [--expires-in 30d|12h|90m | --expires-at 2030-01-01T00:00:00Z]
        create an access token; the secret is printed once and only its hash is kept
  token list [--user NAME] [--json]
  token revoke ID
  key rotate                 new signing key: every issued bearer token becomes invalid
  password hash              read a password from stdin, print its scrypt hash (for auth.users[].passwordHash)
  fsck [--repair] [--json]   re-hash every blob, check every manifest record, tag and blob link; with --repair
                             move what is corrupt to <dataDir>/quarantine/ and re-link missing links; exit 1
                             when problems remain
  gc [--dry-run] [--json]    reclaim blobs no manifest references (and abandoned uploads) while the registry
                             runs; prints each blob and the totals; --dry-run only says what would go
  trash list [--json]        deleted manifests and tags that can still be restored (storage.trashDays)
  restore REPO:TAG | REPO@DIGEST   put a deleted tag or manifest back (its tags too, unless pushed again since)

  NAMESPACE is a repository prefix ('acme', 'acme/backend') or '*'; SCOPES are read, write, delete.
  The data folder comes from --data-dir, else the config (--config, REGISTRY_CONFIG, DATA_DIR), else ./data.`;

const SCOPES: readonly Scope[] = ['read', 'write', 'delete'];

class UsageError extends Error {}

/** The admin CLI as a function of argv and io, so tests run it in-process; returns the exit code. */
export async function runAdmin(argv: readonly string[], io: AdminIo): Promise<number> {
  try {
    await dispatch(argv, io);
    return 0;
  } catch (err) {
    if (err instanceof UsageError) {
      io.err(`registry-admin: ${err.message}\n\n${USAGE}`);
      return 2;
    }
    io.err(`registry-admin: ${(err as Error).message}`);
    return 1;
  }
}

async function dispatch(argv: readonly string[], io: AdminIo): Promise<void> {
  const { values, positionals } = parse(argv);
  const [group, verb, arg] = positionals;
  if (values.help || group === undefined) {
    io.out(USAGE);
    return;
  }
  const config = await loadConfig({ file: values.config ?? io.env.REGISTRY_CONFIG, env: io.env });
  const dataDir = resolve(values['data-dir'] ?? config.storage.dataDir);
  const store = new FsCredentialStore(credentialStorePath(dataDir), 0);
  const now = io.now?.() ?? Date.now();

  if (group === 'user' && verb === 'add' && arg) {
    // With OIDC logins on, that user name marks the password as an OIDC token: such a user could never log in.
    if (config.auth.oidc.issuers.length > 0 && arg === config.auth.oidc.username) throw new UsageError(`'${arg}' is the user name of OIDC logins (auth.oidc.username)`);
    const access = parseAccess(values.access ?? [], values.admin ?? false);
    const password = values['password-stdin'] ? (await io.readStdin()).replace(/\r?\n$/, '') : newPassword();
    checkPasswordLength(password);
    const passwordHash = await hashPassword(password);
    await store.update((data) => {
      if (data.users.some((u) => u.name === arg)) throw new Error(`user ${arg} exists`);
      data.users.push({ name: arg, passwordHash, access, createdAt: new Date(now).toISOString() });
    });
    io.out(`created user ${arg}`);
    if (!values['password-stdin']) io.out(`password (shown once): ${password}`);
  } else if (group === 'user' && verb === 'list') {
    const { users } = await store.snapshot();
    if (values.json) io.out(JSON.stringify(users.map(({ passwordHash: _hidden, ...u }) => u), null, 2));
    else for (const u of users) io.out(`${u.name}\t${u.revokedAt ? 'revoked' : 'active'}\t${u.access.map((a) => `${a.namespace}=${a.scopes.join(',')}`).join(' ') || '-'}`);
  } else if (group === 'user' && verb === 'revoke' && arg) {
    await store.update((data) => {
      const user = data.users.find((u) => u.name === arg);
      if (!user) throw new Error(`no user ${arg} in ${store.path} (users from the config file are managed there)`);
      user.revokedAt ??= new Date(now).toISOString();
    });
    io.out(`revoked user ${arg}`);
  } else if (group === 'token' && verb === 'create') {
    await createToken(values, store, now, io);
  } else if (group === 'token' && verb === 'list') {
    const tokens = (await store.snapshot()).tokens.filter((t) => !values.user || t.user === values.user);
    if (values.json) io.out(JSON.stringify(tokens.map(({ hash: _hidden, ...t }) => t), null, 2));
    else for (const t of tokens) io.out(`${t.id}\t${t.user}\t${t.name}\t${t.scopes.join(',')}\t${t.namespaces.join(',')}\t${tokenState(t, now)}`);
  } else if (group === 'token' && verb === 'revoke' && arg) {
    await store.update((data) => {
      const token = data.tokens.find((t) => t.id === arg);
      if (!token) throw new Error(`no token ${arg}`);
      token.revokedAt ??= new Date(now).toISOString();
    });
    io.out(`revoked token ${arg}`);
  } else if (group === 'password' && verb === 'hash') {
    const password = (await io.readStdin()).replace(/\r?\n$/, '');
    checkPasswordLength(password);
    io.out(await hashPassword(password));
  } else if (group === 'gc' && verb === undefined) {
    await gcCommand(config, dataDir, { dryRun: values['dry-run'] ?? false, json: values.json ?? false }, io);
  } else if (group === 'trash' && verb === 'list') {
    await trashListCommand(config, dataDir, { json: values.json ?? false }, io);
  } else if (group === 'restore' && verb !== undefined && arg === undefined) {
    await restoreCommand(config, dataDir, verb, io);
  } else if (group === 'fsck' && verb === undefined) {
    await fsckCommand(config, dataDir, { repair: values.repair ?? false, json: values.json ?? false }, io);
  } else if (group === 'key' && verb === 'rotate') {
    const keys = new SigningKeyFile(resolve(config.auth.signingKeyFile ?? defaultSigningKeyPath(dataDir)), 0);
    const key = await keys.rotate();
    io.out(`new signing key ${key.kid} (${key.alg}) at ${keys.path}; tokens signed before are no longer accepted`);
  } else {
    throw new UsageError(`unknown command: ${positionals.join(' ')}`);
  }
}

type Values = ReturnType<typeof parse>['values'];

function parse(argv: readonly string[]) {
  try {
    return parseArgs({
      args: [...argv],
      allowPositionals: true,
      options: {
        'data-dir': { type: 'string' },
        config: { type: 'string', short: 'c' },
        access: { type: 'string', multiple: true },
        admin: { type: 'boolean' },
        'password-stdin': { type: 'boolean' },
        user: { type: 'string' },
        name: { type: 'string' },
        scopes: { type: 'string' },
        namespaces: { type: 'string' },
        'expires-in': { type: 'string' },
        'expires-at': { type: 'string' },
        json: { type: 'boolean' },
        repair: { type: 'boolean' },
        'dry-run': { type: 'boolean' },
        help: { type: 'boolean', short: 'h' },
      },
    });
  } catch (err) {
    throw new UsageError((err as Error).message);
  }
}

async function createToken(values: Values, store: FsCredentialStore, now: number, io: AdminIo): Promise<void> {
  const user = values.user;
  const name = values.name;
  if (!user || !name || !values.scopes || !values.namespaces) throw new UsageError('token create needs --user, --name, --scopes and --namespaces');
  const scopes = parseScopeList(values.scopes);
  const namespaces = values.namespaces.split(',').map((n) => n.trim()).filter((n) => n !== '');
  for (const ns of namespaces) checkNamespace(ns);
  const expiresAt = expiry(values, now);
  const secret = newTokenSecret();
  const record: StoredToken = {
    id: newTokenId(),
    name,
    user,
    hash: hashTokenSecret(secret),
    scopes,
    namespaces,
    createdAt: new Date(now).toISOString(),
    ...(expiresAt === undefined ? {} : { expiresAt: new Date(expiresAt).toISOString() }),
  };
  const known = await store.update((data) => {
    // Tokens of users defined in the config or htpasswd file are allowed: the owner is checked at login.
    if (data.users.some((u) => u.name === user && u.revokedAt)) throw new Error(`user ${user} is revoked`);
    data.tokens.push(record);
    return data.users.some((u) => u.name === user);
  });
  if (!known) io.err(`note: ${user} is not a user in ${store.path}; the token works only if the config or htpasswd file defines ${user}`);
  io.out(`created token ${record.id} (${name}) for ${user}: ${scopes.join(',')} on ${namespaces.join(',')}${record.expiresAt ? `, expires ${record.expiresAt}` : ''}`);
  io.out(`token (shown once): ${secret}`);
  io.out(`use it as the password: docker login -u ${user} --password-stdin`);
}

/** scrypt reads every byte (bcrypt stopped at 72); the upper bound only keeps pasted files out. */
function checkPasswordLength(password: string): void {
  if (password.length < 8) throw new UsageError('the password needs at least 8 characters');
  if (Buffer.byteLength(password) > 1024) throw new UsageError('the password is longer than 1024 bytes');
}

function parseAccess(specs: readonly string[], admin: boolean): Array<{ namespace: string; scopes: Scope[] }> {
  const grants: Array<{ namespace: string; scopes: Scope[] }> = admin ? [{ namespace: '*', scopes: [...SCOPES] }] : [];
  for (const spec of specs) {
    const eq = spec.lastIndexOf('=');
    if (eq <= 0) throw new UsageError(`--access wants NAMESPACE=SCOPES, got '${spec}'`);
    const namespace = spec.slice(0, eq);
    checkNamespace(namespace);
    grants.push({ namespace, scopes: parseScopeList(spec.slice(eq + 1)) });
  }
  return grants;
}

function parseScopeList(list: string): Scope[] {
  const scopes = list.split(',').map((s) => s.trim());
  const bad = scopes.filter((s) => !(SCOPES as readonly string[]).includes(s));
  if (bad.length > 0 || scopes.length === 0) throw new UsageError(`unknown scope(s) ${bad.join(',')}: use read, write, delete`);
  return [...new Set(scopes as Scope[])];
}

function checkNamespace(ns: string): void {
  if (!/^(\*|[a-z0-9][a-z0-9._:-]*(\/[a-z0-9][a-z0-9._-]*)*\/?)$/.test(ns)) throw new UsageError(`bad namespace '${ns}'`);
}

function expiry(values: Values, now: number): number | undefined {
  if (values['expires-at']) {
    const at = Date.parse(values['expires-at']);
    if (Number.isNaN(at)) throw new UsageError(`bad --expires-at ${values['expires-at']}`);
    return at;
  }
  const spec = values['expires-in'];
  if (!spec) return undefined;
  const m = /^(\d+)([dhm])$/.exec(spec);
  if (!m) throw new UsageError(`bad --expires-in ${spec}: use e.g. 30d, 12h, 90m`);
  const unit = { d: 86_400_000, h: 3_600_000, m: 60_000 }[m[2] as 'd' | 'h' | 'm'];
  return now + Number(m[1]) * unit;
}

function tokenState(t: StoredToken, now: number): string {
  if (t.revokedAt) return `revoked ${t.revokedAt}`;
  if (t.expiresAt && Date.parse(t.expiresAt) <= now) return `expired ${t.expiresAt}`;
  return t.expiresAt ? `active until ${t.expiresAt}` : 'active';
}
