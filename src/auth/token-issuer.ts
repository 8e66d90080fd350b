import { OciError } from '../oci/errors.js';
import type { AuthEvents } from './auth-events.js';
import type { Access, Action } from './authorizer.js';
import type { CredentialVerifier, LoginResult } from './credential-verifier.js';
import { parseAuthorization } from './credentials.js';
import type { LoginRateLimiter } from './login-rate-limiter.js';
import type { Identity, LoginMethod, VisibilityPolicy } from './policy.js';
import { parseScopes } from './scope.js';
import { TokenError, type TokenService } from './token-service.js';

/** A token request, already taken apart by the HTTP layer (GET query + Basic, or the OAuth2 POST form). */
export interface TokenRequest {
  readonly authorization?: string;
  /** Absent for the GET flow; 'password' or 'refresh_token' for the OAuth2 POST. */
  readonly grantType?: string;
  readonly username?: string;
  readonly password?: string;
  readonly refreshToken?: string;
  readonly scopes: readonly string[];
  /** docker login's offline_token=true, or OAuth2 access_type=offline: also hand out a refresh token. */
  readonly offline: boolean;
  readonly remoteAddress?: string;
}

export interface TokenResponse {
  token: string;
  access_token: string;
  expires_in: number;
  issued_at: string;
  refresh_token?: string;
}

/**
 * The logic of GET/POST /token: authenticate, then grant the intersection of what was asked and what the
 * caller may do. Asking for more is not an error: the token simply holds less, as Docker Hub answers, and
 * the registry refuses the rest when the token is used.
 */
export class TokenIssuer {
  constructor(
    private readonly deps: {
      readonly verifier: CredentialVerifier;
      readonly tokens: TokenService;
      readonly visibility: VisibilityPolicy;
      readonly limiter: LoginRateLimiter;
      readonly events: AuthEvents;
    },
  ) {}

  async issue(request: TokenRequest): Promise<TokenResponse> {
    const identity = await this.authenticate(request);
    const granted = this.grant(identity, parseScopes(request.scopes));
    const oidc = identity?.method === 'oidc';
    const issued = await this.deps.tokens.issue(identity?.subject ?? '', granted, identity?.tokenId, { notAfter: identity?.expiresAt, federated: oidc });
    const response: TokenResponse = {
      token: issued.token,
      access_token: issued.token,
      expires_in: issued.expiresIn,
      issued_at: issued.issuedAt.toISOString(),
    };
    if (identity && request.grantType === 'refresh_token' && request.refreshToken) response.refresh_token = request.refreshToken;
    // No refresh token from an OIDC login: it would outlive the OIDC token (docker then keeps the OIDC token itself).
    else if (identity && request.offline && !oidc) response.refresh_token = (await this.deps.tokens.issueRefresh(identity.subject, identity.tokenId)).token;
    return response;
  }

  private grant(identity: Identity | undefined, wanted: readonly Access[]): Access[] {
    const granted: Access[] = [];
    for (const w of wanted) {
      if (w.type === 'registry') {
        // A CI job (OIDC) pushes and pulls what its policies name; listing the catalog is for users.
        if (identity && identity.method !== 'oidc') granted.push(w);
        continue;
      }
      const actions = w.actions.filter((a: Action) => (a === 'pull' && this.deps.visibility.isPublic(w.name)) || identity?.allows(w.name, a) === true);
      // An entry with no actions is still returned, as Distribution's token servers do for denied scopes.
      granted.push({ type: 'repository', name: w.name, actions });
    }
    return granted;
  }

  private async authenticate(request: TokenRequest): Promise<Identity | undefined> {
    const ip = request.remoteAddress;
    if (request.grantType === 'refresh_token') {
      if (!request.refreshToken) throw badRequest('refresh_token is required');
      let subject: { subject: string; tokenId?: string };
      try {
        subject = await this.deps.tokens.verifyRefresh(request.refreshToken);
      } catch (err) {
        if (!(err instanceof TokenError)) throw err;
        return this.fail(ip, undefined, 'invalid_refresh_token', 'token');
      }
      const current = await this.deps.verifier.identity(subject.subject, subject.tokenId);
      if (!current.ok) return this.fail(ip, subject.subject, current.reason, 'token');
      this.deps.events.login('success', { ip, user: subject.subject, method: 'token' });
      return current.identity;
    }
    let user: string | undefined;
    let secret: string | undefined;
    if (request.grantType === 'password') {
      if (!request.username || request.password === undefined) throw badRequest('username and password are required');
      user = request.username;
      secret = request.password;
    } else if (request.grantType !== undefined) {
      throw badRequest(`unsupported grant_type ${request.grantType.slice(0, 40)}`);
    } else {
      const creds = parseAuthorization(request.authorization);
      if (creds?.scheme === 'basic') {
        user = creds.user;
        secret = creds.password;
      }
      // No (or non-Basic) credentials: an anonymous token, good for public pulls only.
    }
    if (user === undefined || secret === undefined) return undefined;

    const method = this.deps.verifier.methodOf(user, secret);
    const limitKey = this.deps.verifier.limitKey(user);
    const retryAfter = await this.deps.limiter.blockedFor(ip, limitKey);
    if (retryAfter !== undefined) {
      this.deps.events.login('rate_limited', { ip, user, reason: 'too many failed logins', method });
      this.deps.events.denial({ reason: 'rate_limited', ip, user });
      throw new OciError('TOOMANYREQUESTS', 'too many failed login attempts', { headers: { 'Retry-After': String(retryAfter) } });
    }
    const result: LoginResult = await this.deps.verifier.login(user, secret);
    if (!result.ok) {
      await this.deps.limiter.recordFailure(ip, limitKey);
      return this.fail(ip, user, result.reason, method, result.message);
    }
    this.deps.events.login('success', { ip, user, method });
    return result.identity;
  }

  private fail(ip: string | undefined, user: string | undefined, reason: string, method: LoginMethod, message = 'incorrect username, password or token'): never {
    this.deps.events.login('failure', { ip, user, reason, method });
    this.deps.events.denial({ reason, ip, user });
    throw new OciError('UNAUTHORIZED', message, {
      headers: { 'WWW-Authenticate': 'Basic realm="registry token service"' },
    });
  }
}

function badRequest(message: string): OciError {
  return new OciError('UNSUPPORTED', message, { status: 400 });
}
