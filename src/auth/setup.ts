import { isAbsolute, resolve } from 'node:path';
import { Keyv } from 'keyv';
import { createKeyv } from '../keyv-store.js';
import type { Logger } from 'pino';
import type { Config } from '../config/schema.js';
import type { Clock } from '../oci/types.js';
import { AuthEvents, type AuthCounters } from './auth-events.js';
import { WatchedFile } from './auth-files.js';
import { OpenAuthorizer, type Authorizer } from './authorizer.js';
import { CredentialVerifier, type TokenRecord, type UserRecord } from './credential-verifier.js';
import { credentialStorePath, FsCredentialStore } from './fs-credential-store.js';
import { parseHtpasswd } from './htpasswd.js';
import { OidcVerifier } from './oidc/oidc-verifier.js';
import { BoundedMap, LoginRateLimiter } from './login-rate-limiter.js';
import { VisibilityPolicy, type Visibility } from './policy.js';
import { hashPassword, hashTokenSecret } from './secrets.js';
import { defaultSigningKeyPath, SigningKeyFile } from './signing-key.js';
import { TokenAuthorizer } from './token-authorizer.js';
import { TokenIssuer } from './token-issuer.js';
import { TokenService } from './token-service.js';

export interface AuthDeps {
  readonly logger: Logger;
  readonly clock: Clock;
  readonly counters: AuthCounters;
  /** Environment for passwordEnv / secretEnv references (main.ts passes process.env). */
  readonly env?: Readonly<Record<string, string | undefined>>;
  /** Failed-login counters; default: Redis when cache.redisUrl is set, else memory. */
  readonly counterStore?: Keyv;
}

export interface Auth {
  readonly authorizer: Authorizer;
  /** Undefined when access control is off: no token endpoint is mounted. */
  readonly issuer?: TokenIssuer;
  readonly store?: FsCredentialStore;
  readonly keys?: SigningKeyFile;
  readonly tokens?: TokenService;
  close(): Promise<void>;
}

export function signingKeyPath(config: Config): string {
  return resolve(config.auth.signingKeyFile ?? defaultSigningKeyPath(config.storage.dataDir));
}

/** Builds access control from the config; with `auth.enabled: false` everyone may do everything. */
export async function createAuth(config: Config, deps: AuthDeps): Promise<Auth> {
  const auth = config.auth;
  if (!auth.enabled) return { authorizer: new OpenAuthorizer(), close: async () => undefined };
  const env = deps.env ?? {};
  const interval = auth.reloadSeconds * 1000;

  const keys = new SigningKeyFile(signingKeyPath(config), interval);
  const key = await keys.ensure();
  deps.logger.info({ kid: key.kid, alg: key.alg, path: keys.path }, 'token signing key loaded');

  const storePath = credentialStorePath(resolve(config.storage.dataDir));
  const store = new FsCredentialStore(storePath, interval, (err) =>
    deps.logger.error({ path: storePath, error: err.message }, 'credential store unreadable after a change; still using the last good copy'),
  );
  await store.snapshot(); // a corrupt store fails the start, not the first login

  const configUsers: UserRecord[] = [];
  for (const u of auth.users) {
    const passwordHash = u.passwordEnv !== undefined ? await hashPassword(requireEnv(env, u.passwordEnv, `auth.users[${u.name}]`)) : u.passwordHash;
    configUsers.push({ name: u.name, passwordHash, access: u.access });
  }
  const configTokens: TokenRecord[] = auth.tokens.map((t) => ({
    id: `config:${t.name}`,
    name: t.name,
    user: t.user,
    hash: t.secretEnv !== undefined ? hashTokenSecret(requireEnv(env, t.secretEnv, `auth.tokens[${t.name}]`)) : t.secretHash!,
    scopes: t.scopes,
    namespaces: t.namespaces,
    expiresAt: t.expiresAt?.getTime(),
  }));

  let htpasswd;
  if (auth.htpasswd) {
    const path = isAbsolute(auth.htpasswd.file) ? auth.htpasswd.file : resolve(auth.htpasswd.file);
    const file = new WatchedFile(
      path,
      (text) => {
        if (text === undefined) throw new Error(`htpasswd file ${path} is missing`);
        const entries = parseHtpasswd(text);
        if (entries.ignored.length > 0) deps.logger.warn({ users: entries.ignored }, 'htpasswd entries without bcrypt hashes ignored');
        return entries;
      },
      interval,
      (err) => deps.logger.error({ path, error: err.message }, 'htpasswd file unreadable after a change; still using the last good copy'),
    );
    await file.get();
    htpasswd = { file, access: auth.htpasswd.access };
  }

  const events = new AuthEvents(deps.logger, deps.counters);
  const oidc = auth.oidc.issuers.length > 0 ? new OidcVerifier(auth.oidc, deps.clock, (issuer) => ({ fetched: (result, error) => events.jwksFetch(issuer, result, error) })) : undefined;
  const verifier = new CredentialVerifier({ configUsers, configTokens, store, htpasswd, oidc }, deps.clock);
  const tokens = new TokenService(keys, deps.clock, {
    issuer: auth.issuer,
    service: auth.service,
    ttlSeconds: auth.tokenTtlSeconds,
    refreshTtlSeconds: auth.refreshTokenTtlSeconds,
  });
  const visibility = new VisibilityPolicy(visibilityRules(config), visibilityFallback(config));
  const ownsCounters = deps.counterStore === undefined;
  // Shared through Redis when replicas share state, so a guesser cannot spread tries over replicas.
  const counterStore =
    deps.counterStore ??
    (config.cache.redisUrl
      ? createKeyv(config.cache.redisUrl, 'auth-failures')
      : // Bounded: a guesser rotating through many source addresses cannot grow memory without limit.
        new Keyv({ store: new BoundedMap(100_000), namespace: 'auth-failures' }));
  const limiter = new LoginRateLimiter(counterStore, auth.rateLimit, deps.clock);

  return {
    authorizer: new TokenAuthorizer({ verifier, tokens, visibility, limiter, events, service: auth.service, realm: auth.realm }),
    issuer: new TokenIssuer({ verifier, tokens, visibility, limiter, events }),
    store,
    keys,
    tokens,
    async close() {
      if (ownsCounters) await counterStore.disconnect().catch(() => undefined);
    },
  };
}

/**
 * Configured namespaces first; hostedNamespaces get defaultVisibility (they hold pushed content, not
 * mirrored content, even under a default upstream) and mirrored prefixes get mirrorVisibility, unless configured.
 */
function visibilityRules(config: Config): Array<{ prefix: string; visibility: Visibility }> {
  const rules = config.auth.namespaces.map((n) => ({ prefix: n.prefix, visibility: n.visibility }));
  for (const prefix of config.hostedNamespaces) {
    if (!rules.some((r) => r.prefix.replace(/\/+$/, '') === prefix.replace(/\/+$/, ''))) rules.push({ prefix, visibility: config.auth.defaultVisibility });
  }
  for (const u of config.upstreams) {
    if (u.enabled && u.prefix !== undefined && !rules.some((r) => r.prefix.replace(/\/+$/, '') === u.prefix!.replace(/\/+$/, ''))) {
      rules.push({ prefix: u.prefix, visibility: config.auth.mirrorVisibility });
    }
  }
  return rules;
}

/** With a default upstream (mirror mode) unprefixed names are mirrored content too. */
function visibilityFallback(config: Config): Visibility {
  return config.upstreams.some((u) => u.enabled && u.default) ? config.auth.mirrorVisibility : config.auth.defaultVisibility;
}

function requireEnv(env: Readonly<Record<string, string | undefined>>, name: string, where: string): string {
  const value = env[name];
  if (value === undefined || value === '') throw new Error(`${where}: environment variable ${name} is not set`);
  return value;
}
