import { createLocalJWKSet, errors, type JSONWebKeySet, type JWK, type JWTVerifyGetKey } from 'jose';
import type { Clock } from '../../oci/types.js';
import { OidcRejection } from './oidc-rejection.js';

export interface IssuerKeysOptions {
  /** Issuer URL; discovery is <url>/.well-known/openid-configuration. */
  readonly issuer: string;
  readonly jwksUri?: string;
  /** One deadline for everything a login may wait on (discovery + JWKS). */
  readonly timeoutMs: number;
  /** Keys older than this are refreshed in the background; still used meanwhile and while the issuer is down. */
  readonly freshMs: number;
  /** Least time between two fetches caused by unknown kids (a flood of made-up kids costs one fetch). */
  readonly minRefreshMs: number;
  readonly maxKeys: number;
}

export interface JwksEvents {
  fetched(result: 'success' | 'failure', error?: string): void;
}

interface KeySet {
  readonly getKey: JWTVerifyGetKey;
  readonly kids: ReadonlySet<string>;
  readonly fetchedAt: number;
}

const MAX_DOCUMENT_BYTES = 256 * 1024;
const USABLE_KTY = new Set(['RSA', 'EC', 'OKP']);

/**
 * The signing keys of one OIDC issuer, fetched on first use and kept: while the issuer is unreachable the
 * last good set keeps verifying tokens. An unknown kid triggers one refresh (rate limited); every fetch is
 * bounded by a short timeout and shared by the logins waiting for it. Only public asymmetric keys are kept,
 * and at most `maxKeys` of them.
 */
export class IssuerKeys {
  private keys?: KeySet;
  private jwksUri?: string;
  private lastAttempt = -Infinity;
  private inflight?: Promise<void>;

  constructor(
    private readonly options: IssuerKeysOptions,
    private readonly clock: Clock,
    private readonly events: JwksEvents,
  ) {
    this.jwksUri = options.jwksUri;
  }

  /** For jwtVerify: resolves the key a token names, refreshing once when it is unknown. */
  readonly getKey: JWTVerifyGetKey = async (header, token) => {
    const kid = header.kid;
    if (!this.keys) {
      if (this.inflight || this.mayRefresh()) await this.refresh();
    } else if (kid !== undefined && !this.keys.kids.has(kid) && (this.inflight || this.mayRefresh())) await this.refresh();
    else if (this.clock.now() - this.keys.fetchedAt > this.options.freshMs && this.mayRefresh()) {
      // Stale but usable: refresh behind the request, so a key the issuer dropped stops working soon.
      void this.refresh();
    }
    const keys = this.keys;
    if (!keys) throw new OidcRejection('issuer_unavailable', 'the issuer keys could not be fetched');
    if (kid !== undefined && !keys.kids.has(kid)) throw new OidcRejection('unknown_kid', 'the token was signed with a key (kid) the issuer does not publish');
    try {
      return await keys.getKey(header, token);
    } catch (err) {
      // JWKSMultipleMatchingKeys (no kid, several keys) passes through: jwtVerify then tries each of them.
      if (err instanceof errors.JWKSNoMatchingKey) throw new OidcRejection('unknown_kid', 'no key of the issuer matches the token (kid/alg)');
      throw err;
    }
  };

  private mayRefresh(): boolean {
    return this.clock.now() - this.lastAttempt >= this.options.minRefreshMs;
  }

  private refresh(): Promise<void> {
    this.inflight ??= this.fetchKeys().finally(() => {
      this.inflight = undefined;
    });
    return this.inflight;
  }

  private async fetchKeys(): Promise<void> {
    this.lastAttempt = this.clock.now();
    const signal = AbortSignal.timeout(this.options.timeoutMs);
    try {
      this.jwksUri ??= await this.discover(signal);
      const jwks = await fetchJson(this.jwksUri, signal);
      const keys = usableKeys(jwks, this.options.maxKeys);
      if (keys.length === 0) throw new Error('JWKS has no usable public keys');
      const set: JSONWebKeySet = { keys };
      this.keys = {
        getKey: createLocalJWKSet(set),
        kids: new Set(keys.flatMap((k) => (typeof k.kid === 'string' ? [k.kid] : []))),
        fetchedAt: this.clock.now(),
      };
      this.events.fetched('success');
    } catch (err) {
      // Never thrown to the login: it goes on with the keys it has (or is refused with a 401).
      this.events.fetched('failure', (err as Error).message);
    }
  }

  private async discover(signal: AbortSignal): Promise<string> {
    const base = this.options.issuer.replace(/\/+$/, '');
    const doc = (await fetchJson(`${base}/.well-known/openid-configuration`, signal)) as { issuer?: unknown; jwks_uri?: unknown };
    // OpenID Connect Discovery 1.0 §4.3: the document must name the issuer it was fetched for.
    if (doc.issuer !== this.options.issuer) throw new Error(`discovery names issuer ${String(doc.issuer).slice(0, 100)}`);
    if (typeof doc.jwks_uri !== 'string') throw new Error('discovery has no jwks_uri');
    const uri = new URL(doc.jwks_uri);
    const local = ['127.0.0.1', 'localhost', '[::1]'].includes(uri.hostname);
    if (uri.protocol !== 'https:' && !(uri.protocol === 'http:' && local)) throw new Error('jwks_uri is not https');
    return uri.toString();
  }
}

async function fetchJson(url: string, signal: AbortSignal): Promise<unknown> {
  const res = await fetch(url, { signal, redirect: 'error', headers: { accept: 'application/json' } });
  if (res.status !== 200) {
    await res.body?.cancel().catch(() => undefined);
    throw new Error(`${url} answered ${res.status}`);
  }
  const declared = Number(res.headers.get('content-length'));
  if (declared > MAX_DOCUMENT_BYTES) {
    await res.body?.cancel().catch(() => undefined);
    throw new Error(`${url} is larger than ${MAX_DOCUMENT_BYTES} bytes`);
  }
  const text = await res.text();
  if (text.length > MAX_DOCUMENT_BYTES) throw new Error(`${url} is larger than ${MAX_DOCUMENT_BYTES} bytes`);
  return JSON.parse(text) as unknown;
}

function usableKeys(jwks: unknown, max: number): JWK[] {
  const list = (jwks as { keys?: unknown } | null)?.keys;
  if (!Array.isArray(list)) throw new Error('JWKS has no keys array');
  return list
    .filter((k): k is JWK => typeof k === 'object' && k !== null && USABLE_KTY.has((k as JWK).kty ?? '') && (k as JWK).use !== 'enc' && (k as { d?: unknown }).d === undefined)
    .slice(0, max);
}
