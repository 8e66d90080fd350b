import type { Clock } from '../oci/types.js';
import type { WatchedFile } from './auth-files.js';
import type { FsCredentialStore } from './fs-credential-store.js';
import type { HtpasswdEntries } from './htpasswd.js';
import type { OidcVerifier } from './oidc/oidc-verifier.js';
import type { OidcReason } from './oidc/oidc-rejection.js';
import { grantsAllow, inNamespace, scopesAllow, type Identity, type LoginMethod, type NamespaceGrant, type Scope } from './policy.js';
import { hashTokenSecret, isTokenSecret, sameHash, verifyPassword } from './secrets.js';

export interface UserRecord {
  readonly name: string;
  readonly passwordHash?: string;
  readonly access: readonly NamespaceGrant[];
  readonly revoked?: boolean;
}

export interface TokenRecord {
  readonly id: string;
  readonly name: string;
  readonly user: string;
  readonly hash: string;
  readonly scopes: readonly Scope[];
  readonly namespaces: readonly string[];
  /** Epoch ms. */
  readonly expiresAt?: number;
  readonly revoked?: boolean;
}

/** Every place users and tokens come from; earlier sources win on a name clash. */
export interface CredentialSources {
  readonly configUsers: readonly UserRecord[];
  readonly configTokens: readonly TokenRecord[];
  readonly store?: FsCredentialStore;
  readonly htpasswd?: { readonly file: WatchedFile<HtpasswdEntries>; readonly access: readonly NamespaceGrant[] };
  /** OIDC logins from CI: the user name `oidc.username` with an OIDC token as the password. */
  readonly oidc?: OidcVerifier;
}

export type FailureReason =
  | 'unknown_user'
  | 'bad_password'
  | 'bad_token'
  | 'token_expired'
  | 'token_revoked'
  | 'user_revoked'
  | 'token_owner'
  | `oidc_${OidcReason}`;
export type LoginResult =
  | { ok: true; identity: Identity }
  /** `message` is safe to show the client (OIDC says which check failed); absent: the generic message. */
  | { ok: false; reason: FailureReason; method?: LoginMethod; message?: string };

/** Checks Basic credentials (user + password, or user + access token) and re-checks the subject of a JWT. */
export class CredentialVerifier {
  constructor(
    private readonly sources: CredentialSources,
    private readonly clock: Clock,
  ) {}

  /** How a login by this user name and secret is checked (for metrics before the result is known). */
  methodOf(user: string, secret: string): LoginMethod {
    if (this.isOidcUser(user)) return 'oidc';
    return isTokenSecret(secret) ? 'token' : 'password';
  }

  /**
   * The user name failed logins are counted under, per user: none for OIDC logins, which all share one user
   * name (a guesser failing as `oidc` must not lock every CI job out); they are still counted per address.
   */
  limitKey(user: string): string | undefined {
    return this.isOidcUser(user) ? undefined : user;
  }

  private isOidcUser(user: string): boolean {
    return this.sources.oidc?.enabled === true && user === this.sources.oidc.username;
  }

  async login(user: string, secret: string): Promise<LoginResult> {
    if (this.isOidcUser(user)) {
      const r = await this.sources.oidc!.verify(secret);
      if (r.ok) return r;
      return { ok: false, reason: `oidc_${r.rejection.reason}`, method: 'oidc', message: `OIDC token rejected: ${r.rejection.message}` };
    }
    const looksLikeToken = isTokenSecret(secret);
    if (looksLikeToken) {
      const hash = hashTokenSecret(secret);
      const token = await this.findToken((t) => sameHash(t.hash, hash));
      if (token) {
        // The user name must match the owner, so a leaked token is not enough to act under another name.
        if (token.user !== user) return { ok: false, reason: 'token_owner' };
        return this.tokenIdentity(token);
      }
      // No such token: it may still be a password that happens to start like one.
    }
    const found = await this.findUser(user);
    const good = await verifyPassword(secret, found?.passwordHash);
    if (!good && looksLikeToken) return { ok: false, reason: 'bad_token' };
    if (!found) return { ok: false, reason: 'unknown_user' };
    if (!good) return { ok: false, reason: 'bad_password' };
    if (found.revoked) return { ok: false, reason: 'user_revoked' };
    return { ok: true, identity: userIdentity(found) };
  }

  /** The current rights of a subject named in a JWT or refresh token: revocations apply at once. */
  async identity(subject: string, tokenId?: string): Promise<LoginResult> {
    if (tokenId !== undefined) {
      const token = await this.findToken((t) => t.id === tokenId);
      if (!token || token.user !== subject) return { ok: false, reason: 'bad_token' };
      return this.tokenIdentity(token);
    }
    const user = await this.findUser(subject);
    if (!user) return { ok: false, reason: 'unknown_user' };
    if (user.revoked) return { ok: false, reason: 'user_revoked' };
    return { ok: true, identity: userIdentity(user) };
  }

  private async tokenIdentity(token: TokenRecord): Promise<LoginResult> {
    if (token.revoked) return { ok: false, reason: 'token_revoked' };
    if (token.expiresAt !== undefined && token.expiresAt <= this.clock.now()) return { ok: false, reason: 'token_expired' };
    const owner = await this.findUser(token.user);
    if (!owner) return { ok: false, reason: 'unknown_user' };
    if (owner.revoked) return { ok: false, reason: 'user_revoked' };
    const ownerAllows = userIdentity(owner);
    return {
      ok: true,
      identity: {
        subject: token.user,
        tokenId: token.id,
        method: 'token',
        // A token never does more than its owner may, even if the owner's rights shrink later.
        allows: (repo, action) =>
          token.namespaces.some((ns) => inNamespace(ns, repo)) && scopesAllow(token.scopes, action) && ownerAllows.allows(repo, action),
      },
    };
  }

  private async findUser(name: string): Promise<UserRecord | undefined> {
    const fromConfig = this.sources.configUsers.find((u) => u.name === name);
    if (fromConfig) return fromConfig;
    if (this.sources.store) {
      const stored = (await this.sources.store.snapshot()).users.find((u) => u.name === name);
      if (stored) return { name: stored.name, passwordHash: stored.passwordHash, access: stored.access, revoked: stored.revokedAt !== undefined };
    }
    const ht = this.sources.htpasswd;
    if (ht) {
      const hash = (await ht.file.get()).users.get(name);
      if (hash !== undefined) return { name, passwordHash: hash, access: ht.access };
    }
    return undefined;
  }

  private async findToken(match: (t: TokenRecord) => boolean): Promise<TokenRecord | undefined> {
    const fromConfig = this.sources.configTokens.find(match);
    if (fromConfig) return fromConfig;
    if (!this.sources.store) return undefined;
    for (const t of (await this.sources.store.snapshot()).tokens) {
      const record: TokenRecord = {
        id: t.id,
        name: t.name,
        user: t.user,
        hash: t.hash,
        scopes: t.scopes,
        namespaces: t.namespaces,
        expiresAt: t.expiresAt === undefined ? undefined : Date.parse(t.expiresAt),
        revoked: t.revokedAt !== undefined,
      };
      if (match(record)) return record;
    }
    return undefined;
  }
}

function userIdentity(user: UserRecord): Identity {
  return { subject: user.name, method: 'password', allows: (repo, action) => grantsAllow(user.access, repo, action) };
}
