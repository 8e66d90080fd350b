import { randomBytes } from 'node:crypto';
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { exportJWK, generateKeyPair, SignJWT, type JWK, type JWTPayload } from 'jose';

/**
 * A local OIDC issuer on loopback, as a CI platform runs one: discovery at /.well-known/openid-configuration,
 * keys at /jwks, tokens signed with its own keys. Keys can be added, rotated and withdrawn; the issuer can
 * go down (503) or hang (never answer); every request is counted.
 */
export interface SignOptions {
  /** Default: the newest published key. */
  kid?: string;
  audience?: string | string[];
  /** Seconds from now; negative for an expired token. Default 600. */
  expiresIn?: number;
  /** Seconds from now for nbf (default: now). */
  notBefore?: number;
  issuer?: string;
  /** Omit the kid header. */
  noKid?: boolean;
}

interface IssuerKey {
  kid: string;
  alg: 'RS256' | 'ES256';
  privateKey: CryptoKey;
  publicJwk: JWK;
}

export type IssuerMode = 'up' | 'down' | 'hang';

export class OidcIssuer {
  /** Keys whose public half is in the JWKS. */
  private published: IssuerKey[] = [];
  /** Every key ever made, published or not (to sign with a withdrawn or never-published key). */
  private readonly all = new Map<string, IssuerKey>();
  private hanging: ServerResponse[] = [];
  mode: IssuerMode = 'up';
  readonly requests = { discovery: 0, jwks: 0 };

  private constructor(
    private readonly server: ReturnType<typeof createServer>,
    readonly url: string,
  ) {}

  static async start(): Promise<OidcIssuer> {
    let self: OidcIssuer | undefined;
    const server = createServer((req, res) => self!.handle(req, res));
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    const { port } = server.address() as AddressInfo;
    self = new OidcIssuer(server, `http://127.0.0.1:${port}`);
    await self.addKey();
    return self;
  }

  get jwksUri(): string {
    return `${this.url}/jwks`;
  }

  /** Makes a key; published unless told otherwise. Returns its kid. */
  async addKey(o: { publish?: boolean; alg?: 'RS256' | 'ES256' } = {}): Promise<string> {
    // ES256 keys are made in a millisecond; RSA (what GitHub uses) for the first key only.
    const alg = o.alg ?? (this.all.size === 0 ? 'RS256' : 'ES256');
    const { privateKey, publicKey } = await generateKeyPair(alg, { extractable: true });
    const kid = `k-${randomBytes(4).toString('hex')}`;
    const publicJwk = { ...(await exportJWK(publicKey)), kid, alg, use: 'sig' };
    const key: IssuerKey = { kid, alg, privateKey: privateKey as CryptoKey, publicJwk };
    this.all.set(kid, key);
    if (o.publish ?? true) this.published.push(key);
    return kid;
  }

  /** Publishes a new key beside the old ones; returns the new kid. */
  rotate(): Promise<string> {
    return this.addKey();
  }

  /** Takes a key out of the JWKS (tokens it signed can still be made, to show they are refused). */
  withdraw(kid: string): void {
    this.published = this.published.filter((k) => k.kid !== kid);
  }

  get kids(): string[] {
    return this.published.map((k) => k.kid);
  }

  /** A GitHub-Actions-like ID token with these claims. */
  async sign(claims: JWTPayload, o: SignOptions = {}): Promise<string> {
    const key = o.kid ? this.all.get(o.kid) : this.published.at(-1);
    if (!key) throw new Error(`no key ${o.kid ?? '(published)'}`);
    const now = Math.floor(Date.now() / 1000);
    return new SignJWT({ ...claims })
      .setProtectedHeader(o.noKid ? { alg: key.alg, typ: 'JWT' } : { alg: key.alg, kid: key.kid, typ: 'JWT' })
      .setIssuer(o.issuer ?? this.url)
      .setAudience(o.audience ?? 'registry')
      .setIssuedAt(now + (o.notBefore ?? 0))
      .setNotBefore(now + (o.notBefore ?? 0))
      .setExpirationTime(now + (o.expiresIn ?? 600))
      .setJti(randomBytes(8).toString('hex'))
      .sign(key.privateKey);
  }

  async close(): Promise<void> {
    for (const res of this.hanging.splice(0)) res.destroy();
    this.server.closeAllConnections();
    await new Promise<void>((resolve) => this.server.close(() => resolve()));
  }

  private handle(req: IncomingMessage, res: ServerResponse): void {
    const path = (req.url ?? '').split('?')[0];
    if (path === '/.well-known/openid-configuration') this.requests.discovery++;
    else if (path === '/jwks') this.requests.jwks++;
    if (this.mode === 'hang') {
      this.hanging.push(res);
      return;
    }
    if (this.mode === 'down') {
      res.writeHead(503).end('down');
      return;
    }
    if (path === '/.well-known/openid-configuration') {
      this.json(res, { issuer: this.url, jwks_uri: this.jwksUri, id_token_signing_alg_values_supported: ['RS256', 'ES256'] });
    } else if (path === '/jwks') {
      this.json(res, { keys: this.published.map((k) => k.publicJwk) });
    } else {
      res.writeHead(404).end();
    }
  }

  private json(res: ServerResponse, body: unknown): void {
    const text = JSON.stringify(body);
    res.writeHead(200, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(text) }).end(text);
  }
}

/** Claims as GitHub Actions puts them in its ID tokens (the ones policies usually test). */
export function githubClaims(repository: string, ref = 'refs/heads/main', extra: JWTPayload = {}): JWTPayload {
  const [owner] = repository.split('/');
  return {
    sub: `repo:${repository}:ref:${ref}`,
    repository,
    repository_owner: owner,
    ref,
    workflow: 'build',
    event_name: 'push',
    ...extra,
  };
}
