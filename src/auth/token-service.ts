import { randomUUID } from 'node:crypto';
import { SignJWT, jwtVerify } from 'jose';
import { z } from 'zod';
import type { Clock } from '../oci/types.js';
import type { Access } from './authorizer.js';
import type { SigningKeyFile } from './signing-key.js';

export interface TokenServiceOptions {
  readonly issuer: string;
  /** The `aud` of tokens: the registry's service name. */
  readonly service: string;
  readonly ttlSeconds: number;
  readonly refreshTtlSeconds: number;
}

export interface IssuedToken {
  readonly token: string;
  readonly expiresIn: number;
  readonly issuedAt: Date;
}

export interface VerifiedToken {
  /** '' for a token handed to an anonymous caller. */
  readonly subject: string;
  readonly tokenId?: string;
  readonly access: readonly Access[];
  /** Issued from an OIDC login: no user record stands behind the subject. */
  readonly federated: boolean;
}

export class TokenError extends Error {
  override name = 'TokenError';
}

const ACCESS_TYPE = 'JWT';
// Refresh tokens have their own type, so one can never be used as a bearer token, nor the reverse.
const REFRESH_TYPE = 'refresh+jwt';

const accessClaim = z.array(
  z.union([
    z.object({ type: z.literal('repository'), name: z.string().min(1), actions: z.array(z.enum(['pull', 'push', 'delete'])) }).strict(),
    z.object({ type: z.literal('registry'), name: z.literal('catalog'), actions: z.tuple([z.literal('*')]) }).strict(),
  ]),
);
const subjectClaims = z.object({ sub: z.string(), tid: z.string().optional() });

/**
 * Issues and checks the registry's own JWTs, in the shape Distribution's token auth uses: iss, sub, aud,
 * exp, nbf, iat, jti and `access: [{type, name, actions}]` holding only what was granted. Only the
 * current signing key and its algorithm are accepted, so `alg: none`, another key, any edited claim and
 * every token from before a key rotation fail.
 */
export class TokenService {
  constructor(
    private readonly keys: SigningKeyFile,
    private readonly clock: Clock,
    private readonly options: TokenServiceOptions,
  ) {}

  get ttlSeconds(): number {
    return this.options.ttlSeconds;
  }

  /**
   * `notAfter` (epoch ms) caps the lifetime: a token issued from an OIDC login never outlives the OIDC token.
   * `federated` marks a token whose subject is no user of this registry: what it names is all it may do.
   */
  issue(subject: string, access: readonly Access[], tokenId?: string, o: { notAfter?: number; federated?: boolean } = {}): Promise<IssuedToken> {
    let ttl = this.options.ttlSeconds;
    if (o.notAfter !== undefined) ttl = Math.min(ttl, Math.floor(o.notAfter / 1000) - Math.floor(this.clock.now() / 1000));
    if (ttl <= 0) throw new TokenError('the credential has expired');
    return this.sign(ACCESS_TYPE, { access, ...(tokenId ? { tid: tokenId } : {}), ...(o.federated ? { idp: 'oidc' } : {}) }, subject, ttl);
  }

  issueRefresh(subject: string, tokenId?: string): Promise<IssuedToken> {
    return this.sign(REFRESH_TYPE, tokenId ? { tid: tokenId } : {}, subject, this.options.refreshTtlSeconds);
  }

  async verify(token: string): Promise<VerifiedToken> {
    const payload = await this.check(token, ACCESS_TYPE);
    const access = accessClaim.safeParse(payload.access ?? []);
    if (!access.success) throw new TokenError('malformed access claim');
    const { sub, tid } = subjectClaims.parse(payload);
    return { subject: sub, tokenId: tid, access: access.data as Access[], federated: payload.idp === 'oidc' };
  }

  async verifyRefresh(token: string): Promise<{ subject: string; tokenId?: string }> {
    const payload = await this.check(token, REFRESH_TYPE);
    const { sub, tid } = subjectClaims.parse(payload);
    if (sub === '') throw new TokenError('refresh token without subject');
    return { subject: sub, tokenId: tid };
  }

  private async sign(typ: string, claims: Record<string, unknown>, subject: string, ttl: number): Promise<IssuedToken> {
    const key = await this.keys.current();
    const nowSec = Math.floor(this.clock.now() / 1000);
    const token = await new SignJWT(claims)
      .setProtectedHeader({ alg: key.alg, kid: key.kid, typ })
      .setIssuer(this.options.issuer)
      .setSubject(subject)
      .setAudience(this.options.service)
      .setIssuedAt(nowSec)
      .setNotBefore(nowSec)
      .setExpirationTime(nowSec + ttl)
      .setJti(randomUUID())
      .sign(key.privateKey);
    return { token, expiresIn: ttl, issuedAt: new Date(nowSec * 1000) };
  }

  private async check(token: string, typ: string): Promise<Record<string, unknown>> {
    const key = await this.keys.current();
    try {
      const { payload } = await jwtVerify(token, key.publicKey, {
        algorithms: [key.alg],
        issuer: this.options.issuer,
        audience: this.options.service,
        typ,
        currentDate: new Date(this.clock.now()),
        requiredClaims: ['sub', 'exp', 'nbf', 'iat', 'jti'],
        clockTolerance: 5,
      });
      return payload as Record<string, unknown>;
    } catch (err) {
      throw new TokenError((err as Error).message);
    }
  }
}
