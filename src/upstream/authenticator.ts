import type { Logger } from 'pino';
import { z } from 'zod';
import { OciError } from '../oci/errors.js';
import type { Metrics } from '../metrics/metrics.js';
import { parseChallenges, pickChallenge } from './challenge.js';
import { basicAuthorization, type UpstreamCredentials } from './credentials.js';
import type { HttpTransport } from './http-transport.js';
import { readLimited } from './read-body.js';
import { usableLifetimeMs, type TokenCache } from './token-cache.js';

type Mode = { kind: 'unknown' } | { kind: 'basic' } | { kind: 'bearer'; realm: string; service?: string };

const tokenResponse = z
  .object({ token: z.string().min(1).optional(), access_token: z.string().min(1).optional(), expires_in: z.number().positive().optional() })
  .passthrough();

/** Docker's token spec: a token without expires_in lasts 60 seconds. */
const DEFAULT_TOKEN_SECONDS = 60;

export interface AuthenticatorOptions {
  upstream: string;
  credentials: UpstreamCredentials | undefined;
  tokens: TokenCache;
  transport: HttpTransport;
  metrics: Metrics;
  logger: Logger;
  marginSeconds: number;
}

/**
 * The client side of the registry token dance for one upstream. It learns the scheme from the first
 * challenge, then asks the token service before sending (saving a 401 round trip per new repository).
 * Tokens are cached per scope; concurrent requests needing the same token share one fetch.
 */
export class Authenticator {
  private mode: Mode = { kind: 'unknown' };
  private readonly fetching = new Map<string, Promise<string>>();

  constructor(private readonly o: AuthenticatorOptions) {}

  /** The Authorization header to send for `scope`, if we know one. */
  async authorization(scope: string): Promise<string | undefined> {
    const c = this.o.credentials;
    if (c?.token !== undefined) return `Bearer ${c.token}`;
    if (this.mode.kind === 'basic') return c ? basicAuthorization(c) : undefined;
    if (this.mode.kind !== 'bearer') return undefined;
    const cached = await this.o.tokens.get(this.o.upstream, scope);
    return `Bearer ${cached ?? (await this.fetchToken(scope, scope))}`;
  }

  /**
   * After a 401: learns the challenge, forgets the rejected token and returns a fresh Authorization
   * to retry with once, or undefined when there is nothing better to send.
   */
  async renew(wwwAuthenticate: string | string[] | undefined, scope: string, sent: string | undefined): Promise<string | undefined> {
    const challenge = pickChallenge(parseChallenges(wwwAuthenticate));
    const c = this.o.credentials;
    if (!challenge) return undefined;
    if (challenge.scheme === 'basic') {
      this.mode = { kind: 'basic' };
      const basic = c ? basicAuthorization(c) : undefined;
      return basic !== undefined && basic !== sent ? basic : undefined;
    }
    if (c?.token !== undefined) return undefined; // a static token that was refused stays refused
    this.mode = { kind: 'bearer', realm: challenge.params.realm!, service: challenge.params.service };
    if (sent === undefined) {
      // First contact from this process: a replica sharing the token store may already hold one.
      const shared = await this.o.tokens.get(this.o.upstream, scope);
      if (shared !== undefined) return `Bearer ${shared}`;
    } else {
      await this.o.tokens.delete(this.o.upstream, scope);
    }
    const token = await this.fetchToken(scope, challenge.params.scope ?? scope);
    const header = `Bearer ${token}`;
    return header !== sent ? header : undefined;
  }

  private fetchToken(cacheScope: string, scope: string): Promise<string> {
    const running = this.fetching.get(cacheScope);
    if (running) return running;
    const work = this.requestToken(cacheScope, scope).finally(() => this.fetching.delete(cacheScope));
    this.fetching.set(cacheScope, work);
    return work;
  }

  private async requestToken(cacheScope: string, scope: string): Promise<string> {
    if (this.mode.kind !== 'bearer') throw new Error('no bearer realm known');
    const url = new URL(this.mode.realm);
    if (this.mode.service !== undefined) url.searchParams.set('service', this.mode.service);
    url.searchParams.set('scope', scope);
    const c = this.o.credentials;
    const basic = c ? basicAuthorization(c) : undefined;
    const { upstream, metrics } = this.o;
    const timer = metrics.upstreamDuration.startTimer({ upstream, kind: 'token' });
    try {
      let res;
      try {
        res = await this.o.transport.request({ method: 'GET', url, headers: basic ? { authorization: basic } : {} });
      } catch (err) {
        throw new OciError('UNAVAILABLE', `token service of upstream ${upstream} unreachable`, { cause: err });
      }
      const body = await readLimited(res, 1024 * 1024);
      if (res.statusCode !== 200) {
        this.o.logger.warn({ upstream, status: res.statusCode, scope, withCredentials: basic !== undefined }, 'upstream token request refused');
        if (res.statusCode === 401 || res.statusCode === 403) throw new OciError('DENIED', `upstream ${upstream} refused the credentials or scope`);
        if (res.statusCode === 429) throw new OciError('TOOMANYREQUESTS', `upstream ${upstream} token service is rate limiting`);
        throw new OciError('UNAVAILABLE', `token service of upstream ${upstream} answered ${res.statusCode}`);
      }
      let parsed;
      try {
        parsed = tokenResponse.parse(JSON.parse(body.toString('utf8')));
      } catch {
        throw new OciError('UNAVAILABLE', `token service of upstream ${upstream} sent no usable token`);
      }
      const token = parsed.token ?? parsed.access_token;
      if (token === undefined) throw new OciError('UNAVAILABLE', `token service of upstream ${upstream} sent no token`);
      const seconds = parsed.expires_in ?? DEFAULT_TOKEN_SECONDS;
      await this.o.tokens.set(upstream, cacheScope, token, usableLifetimeMs(seconds, this.o.marginSeconds));
      metrics.upstreamTokenFetches.inc({ upstream, result: 'ok' });
      this.o.logger.debug({ upstream, scope, expiresIn: seconds }, 'upstream token fetched');
      return token;
    } catch (err) {
      metrics.upstreamTokenFetches.inc({ upstream, result: 'error' });
      throw err;
    } finally {
      timer();
    }
  }
}
