import { OciError } from '../oci/errors.js';
import type { AuthEvents } from './auth-events.js';
import { denied, type Access, type Action, type AuthRequest, type Authorizer, type Grant } from './authorizer.js';
import type { CredentialVerifier } from './credential-verifier.js';
import { parseAuthorization } from './credentials.js';
import type { LoginRateLimiter } from './login-rate-limiter.js';
import type { Identity, VisibilityPolicy } from './policy.js';
import { bearerChallenge, formatScope, type ChallengeError } from './scope.js';
import type { TokenService, VerifiedToken } from './token-service.js';

export interface TokenAuthorizerDeps {
  readonly verifier: CredentialVerifier;
  readonly tokens: TokenService;
  readonly visibility: VisibilityPolicy;
  readonly limiter: LoginRateLimiter;
  readonly events: AuthEvents;
  readonly service: string;
  /** Token endpoint URL for challenges; default `<request base>/token`. */
  readonly realm?: string;
}

type Allows = (repo: string, action: Action) => boolean;

/**
 * Access control on every /v2/ request. Accepts the registry's own JWTs (Bearer) and, for scripts and
 * `skopeo --creds`, Basic user + password or user + access token directly. Anonymous callers may pull
 * public namespaces. No or bad credentials → 401 UNAUTHORIZED with a Bearer challenge naming the scope;
 * a known caller without the right → 403 DENIED.
 */
export class TokenAuthorizer implements Authorizer {
  constructor(private readonly deps: TokenAuthorizerDeps) {}

  async authorize(request: AuthRequest, wanted: readonly Access[]): Promise<Grant> {
    const creds = parseAuthorization(request.authorization);
    const ip = request.remoteAddress;
    const isPublicPull: Allows = (repo, action) => action === 'pull' && this.deps.visibility.isPublic(repo);

    if (creds === undefined) {
      const grant: Grant = { subject: null, allows: isPublicPull };
      // GET /v2/ (nothing wanted) must answer 401 to anonymous callers: docker login and podman read the challenge there.
      if (wanted.length > 0 && wanted.every((w) => covers(grant.allows, false, w))) return grant;
      throw this.unauthorized(request, wanted, 'no_credentials', 'authentication required');
    }
    if (creds.scheme === 'bearer') return this.bearer(request, wanted, creds.token, isPublicPull);
    if (creds.scheme !== 'basic') throw this.unauthorized(request, wanted, 'unsupported_scheme', 'unsupported authorization scheme');

    const method = this.deps.verifier.methodOf(creds.user, creds.password);
    const limitKey = this.deps.verifier.limitKey(creds.user);
    const retryAfter = await this.deps.limiter.blockedFor(ip, limitKey);
    if (retryAfter !== undefined) {
      this.deps.events.login('rate_limited', { ip, user: creds.user, reason: 'too many failed logins', method });
      this.deps.events.denial({ reason: 'rate_limited', ip, user: creds.user });
      throw new OciError('TOOMANYREQUESTS', 'too many failed login attempts', { headers: { 'Retry-After': String(retryAfter) } });
    }
    const result = await this.deps.verifier.login(creds.user, creds.password);
    if (!result.ok) {
      await this.deps.limiter.recordFailure(ip, limitKey);
      this.deps.events.login('failure', { ip, user: creds.user, reason: result.reason, method });
      throw this.unauthorized(request, wanted, result.reason, result.message ?? 'invalid username, password or token', undefined, creds.user);
    }
    this.deps.events.login('success', { ip, user: creds.user, method });
    const identity = result.identity;
    const allows: Allows = (repo, action) => isPublicPull(repo, action) || identity.allows(repo, action);
    return this.check(request, wanted, { subject: identity.subject, allows }, true, identity);
  }

  /** Only an anonymous pull of public repositories is decided from memory; credentials are always checked. */
  authorizeFromMemory(authorization: string | undefined, wanted: readonly Access[]): Grant | undefined {
    if (authorization !== undefined || wanted.length === 0) return undefined;
    const allows: Allows = (repo, action) => action === 'pull' && this.deps.visibility.isPublic(repo);
    return wanted.every((w) => covers(allows, false, w)) ? { subject: null, allows } : undefined;
  }

  /** Anonymous: public pulls; Basic or a catalog-scoped JWT (a page session): what the subject may pull. */
  async identify(request: AuthRequest): Promise<Grant> {
    if (parseAuthorization(request.authorization) === undefined) {
      return { subject: null, allows: (repo, action) => action === 'pull' && this.deps.visibility.isPublic(repo) };
    }
    return this.authorize(request, [{ type: 'registry', name: 'catalog', actions: ['*'] }]);
  }

  private async bearer(request: AuthRequest, wanted: readonly Access[], token: string, isPublicPull: Allows): Promise<Grant> {
    let verified: VerifiedToken;
    try {
      verified = await this.deps.tokens.verify(token);
    } catch {
      throw this.unauthorized(request, wanted, 'invalid_token', 'invalid or expired token', 'invalid_token');
    }
    let identity: Identity | undefined;
    const inToken: Allows = (repo, action) =>
      verified.access.some((a) => a.type === 'repository' && a.name === repo && (a.actions as readonly string[]).includes(action));
    if (verified.federated) {
      // From an OIDC login: no user record to re-check; the token holds exactly what the policies granted.
      identity = { subject: verified.subject, method: 'oidc', allows: inToken };
    } else if (verified.subject !== '') {
      // Re-check the subject: a revoked user or token loses its JWTs at once, not when they expire.
      const current = await this.deps.verifier.identity(verified.subject, verified.tokenId);
      if (!current.ok) throw this.unauthorized(request, wanted, current.reason, 'invalid or expired token', 'invalid_token', verified.subject);
      identity = current.identity;
    }
    const catalogInToken = verified.access.some((a) => a.type === 'registry');
    const listing = catalogInToken && wanted.some((w) => w.type === 'registry');
    // A catalog token lists what its subject may read; otherwise only what the token itself names counts.
    const allows: Allows = (repo, action) =>
      isPublicPull(repo, action) ||
      (identity !== undefined && identity.allows(repo, action) && (inToken(repo, action) || (listing && action === 'pull')));
    return this.check(request, wanted, { subject: identity?.subject ?? null, allows }, catalogInToken, identity);
  }

  /** Passes when every wanted access is covered; else tells a scope the caller could get (401) from one it cannot (403). */
  private check(request: AuthRequest, wanted: readonly Access[], grant: Grant, catalog: boolean, identity: Identity | undefined): Grant {
    const missing = wanted.filter((w) => !covers(grant.allows, catalog, w));
    if (missing.length === 0) return grant;
    const couldHave = identity !== undefined && missing.every((w) => covers(identity.allows, true, w));
    if (couldHave || identity === undefined) {
      throw this.unauthorized(request, wanted, 'insufficient_scope', 'token does not cover the requested access', 'insufficient_scope', identity?.subject);
    }
    this.deps.events.denial({ reason: 'forbidden', ip: request.remoteAddress, user: identity.subject, scope: missing.map(formatScope).join(' ') });
    throw denied('requested access to the resource is denied', detail(missing));
  }

  private unauthorized(request: AuthRequest, wanted: readonly Access[], reason: string, message: string, error?: ChallengeError, user?: string): OciError {
    this.deps.events.denial({ reason, ip: request.remoteAddress, user, scope: wanted.map(formatScope).join(' ') || undefined });
    const realm = this.deps.realm ?? `${request.baseUrl}/token`;
    return new OciError('UNAUTHORIZED', message, {
      headers: { 'WWW-Authenticate': bearerChallenge(realm, this.deps.service, wanted, error) },
      detail: wanted.length > 0 ? detail(wanted) : undefined,
    });
  }
}

function covers(allows: Allows, catalog: boolean, w: Access): boolean {
  if (w.type === 'registry') return catalog;
  return w.actions.every((a) => allows(w.name, a));
}

/** Distribution's detail shape: which resource and action were refused. */
function detail(list: readonly Access[]): Array<{ Type: string; Name: string; Action: string }> {
  return list.flatMap((a) => a.actions.map((action) => ({ Type: a.type, Name: a.name, Action: action })));
}
