import { decodeJwt, decodeProtectedHeader, errors, jwtVerify, type JWTPayload } from 'jose';
import type { OidcConfig, OidcIssuerConfig } from '../../config/auth-schema.js';
import type { Clock } from '../../oci/types.js';
import { grantsAllow, type Identity, type NamespaceGrant } from '../policy.js';
import { compileConditions } from './claim-match.js';
import { IssuerKeys, type JwksEvents } from './issuer-keys.js';
import { OidcRejection } from './oidc-rejection.js';

export type OidcResult = { ok: true; identity: Identity } | { ok: false; rejection: OidcRejection };

interface TrustedIssuer {
  readonly config: OidcIssuerConfig;
  readonly keys: IssuerKeys;
  readonly policies: ReadonlyArray<{ matches: (claims: Readonly<Record<string, unknown>>) => boolean; grant: NamespaceGrant }>;
}

/** Longest accepted token, in characters: CI tokens are 1–2 KB; a huge "password" is not parsed. */
const MAX_TOKEN_LENGTH = 16 * 1024;

/**
 * Verifies OIDC ID tokens from trusted CI issuers and maps their claims to access. The caller gets the
 * union of the grants of every policy whose conditions all hold; nothing when none holds. Checks, in order:
 * shape, issuer (by iss, before any key is fetched), algorithm (asymmetric only), key (kid in the JWKS,
 * refreshed once), signature, audience, exp/nbf within the skew, a policy.
 */
export class OidcVerifier {
  private readonly issuers: ReadonlyMap<string, TrustedIssuer>;

  constructor(
    private readonly config: OidcConfig,
    private readonly clock: Clock,
    events: (issuer: string) => JwksEvents,
  ) {
    const issuers = new Map<string, TrustedIssuer>();
    for (const c of config.issuers) {
      const keys = new IssuerKeys(
        {
          issuer: c.url,
          jwksUri: c.jwksUri,
          timeoutMs: config.fetchTimeoutMs,
          freshMs: config.jwksCacheSeconds * 1000,
          minRefreshMs: config.jwksRefreshMinSeconds * 1000,
          maxKeys: config.maxKeysPerIssuer,
        },
        clock,
        events(c.url),
      );
      const policies = c.policies.map((p) => ({ matches: compileConditions(p.claims), grant: { namespace: p.namespace, scopes: p.scopes } }));
      issuers.set(c.url, { config: c, keys, policies });
    }
    this.issuers = issuers;
  }

  get enabled(): boolean {
    return this.issuers.size > 0;
  }

  /** The user name that marks a Basic password as an OIDC token. */
  get username(): string {
    return this.config.username;
  }

  async verify(token: string): Promise<OidcResult> {
    try {
      return { ok: true, identity: await this.check(token.trim()) };
    } catch (err) {
      return { ok: false, rejection: toRejection(err) };
    }
  }

  private async check(token: string): Promise<Identity> {
    if (token.length > MAX_TOKEN_LENGTH || token.split('.').length !== 3) throw new OidcRejection('malformed', 'the password is not a JWT');
    let iss: unknown;
    let alg: unknown;
    try {
      alg = decodeProtectedHeader(token).alg;
      iss = decodeJwt(token).iss;
    } catch {
      throw new OidcRejection('malformed', 'the password is not a JWT');
    }
    const issuer = typeof iss === 'string' ? this.issuers.get(iss) : undefined;
    if (!issuer) throw new OidcRejection('untrusted_issuer', 'the token issuer (iss) is not trusted');
    // Checked before any key lookup, so `none` and HS256 never reach the JWKS (jose would refuse them too).
    if (typeof alg !== 'string' || !(issuer.config.algorithms as readonly string[]).includes(alg)) {
      throw new OidcRejection('alg_not_allowed', 'the token algorithm is not allowed (none and HMAC never are)');
    }
    const options = {
      issuer: issuer.config.url,
      audience: issuer.config.audience,
      algorithms: [...issuer.config.algorithms],
      clockTolerance: this.config.clockSkewSeconds,
      currentDate: new Date(this.clock.now()),
      requiredClaims: ['exp', 'iss', 'aud'],
    };
    try {
      return this.identity(issuer, (await jwtVerify(token, issuer.keys.getKey, options)).payload);
    } catch (err) {
      // A token without kid and several keys of its type: jose hands back the candidates to try in turn.
      if (!(err instanceof errors.JWKSMultipleMatchingKeys)) throw err;
      for await (const key of err) {
        try {
          return this.identity(issuer, (await jwtVerify(token, key, options)).payload);
        } catch (inner) {
          if (!(inner instanceof errors.JWSSignatureVerificationFailed)) throw inner;
        }
      }
      throw new OidcRejection('bad_signature', 'the token signature is invalid');
    }
  }

  private identity(issuer: TrustedIssuer, payload: JWTPayload): Identity {
    // The skew forgives an issuer clock ahead of ours (nbf, iat); at exp the token ends, since nothing the
    // registry issues from it may outlive it.
    if (payload.exp! * 1000 - this.clock.now() < 1000) throw new OidcRejection('expired', 'the token has expired (exp)');
    const claims = payload as Readonly<Record<string, unknown>>;
    const grants = issuer.policies.filter((p) => p.matches(claims)).map((p) => p.grant);
    if (grants.length === 0) throw new OidcRejection('no_policy', 'no OIDC policy of this registry matches the token claims');
    const sub = typeof payload.sub === 'string' ? payload.sub.slice(0, 200) : '';
    return {
      subject: `oidc:${sub}`,
      method: 'oidc',
      expiresAt: payload.exp! * 1000,
      allows: (repo, action) => grantsAllow(grants, repo, action),
    };
  }
}

function toRejection(err: unknown): OidcRejection {
  if (err instanceof OidcRejection) return err;
  if (err instanceof errors.JWTExpired) return new OidcRejection('expired', 'the token has expired (exp)');
  if (err instanceof errors.JWTClaimValidationFailed) {
    if (err.claim === 'aud') return new OidcRejection('wrong_audience', 'the token audience (aud) is not this registry');
    if (err.claim === 'iss') return new OidcRejection('untrusted_issuer', 'the token issuer (iss) is not trusted');
    if (err.claim === 'nbf' || err.claim === 'iat') return new OidcRejection('not_yet_valid', 'the token is not valid yet (nbf/iat)');
    return new OidcRejection('malformed', `the token claim ${err.claim.slice(0, 20)} is missing or invalid`);
  }
  if (err instanceof errors.JWSSignatureVerificationFailed) return new OidcRejection('bad_signature', 'the token signature is invalid');
  if (err instanceof errors.JOSEAlgNotAllowed || err instanceof errors.JOSENotSupported) {
    return new OidcRejection('alg_not_allowed', 'the token algorithm is not allowed (none and HMAC never are)');
  }
  if (err instanceof errors.JWKSNoMatchingKey || err instanceof errors.JWKSMultipleMatchingKeys) {
    return new OidcRejection('unknown_kid', 'no key of the issuer matches the token (kid/alg)');
  }
  return new OidcRejection('malformed', 'the token could not be verified');
}
