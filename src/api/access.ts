import type { Request, Response } from 'express';
import type { AuthRequest, Authorizer } from '../auth/authorizer.js';
import type { TokenIssuer } from '../auth/token-issuer.js';
import { clientAddress, requestBaseUrl } from '../http/request-origin.js';
import { isOciError } from '../oci/errors.js';
import type { Viewer } from '../readmodel/read-model.js';

export const SESSION_COOKIE = 'registry_session';

/** How pages and the API learn who is looking: an Authorization header, else the session cookie. */
export class WebAccess {
  constructor(
    private readonly authorizer: Authorizer,
    private readonly issuer: TokenIssuer | undefined,
    private readonly publicUrl: string | undefined,
  ) {}

  /** Sign-in is possible only with access control on. */
  get signInEnabled(): boolean {
    return this.issuer !== undefined;
  }

  /** Bad credentials in a header → UNAUTHORIZED; an expired or bad session cookie counts as signed out. */
  async viewer(req: Request): Promise<Viewer & { session: boolean }> {
    const header = req.headers.authorization;
    if (header !== undefined && header.trim() !== '') return { ...(await this.identify(this.authRequest(req, header))), session: false };
    const session = readCookie(req, SESSION_COOKIE);
    if (session !== undefined) {
      try {
        return { ...(await this.identify(this.authRequest(req, `Bearer ${session}`))), session: true };
      } catch (err) {
        if (!isOciError(err, 'UNAUTHORIZED')) throw err;
      }
    }
    return { ...(await this.identify(this.authRequest(req, undefined))), session: false };
  }

  /** Exchanges a user name and password (or access token) for a short-lived session: a registry JWT allowed to list. */
  async signIn(req: Request, res: Response, username: string, password: string): Promise<void> {
    if (!this.issuer) return;
    const issued = await this.issuer.issue({
      grantType: 'password',
      username,
      password,
      scopes: ['registry:catalog:*'],
      offline: false,
      remoteAddress: clientAddress(req),
    });
    res.cookie(SESSION_COOKIE, issued.token, { httpOnly: true, sameSite: 'strict', secure: this.secure(req), path: '/', maxAge: issued.expires_in * 1000 });
  }

  signOut(req: Request, res: Response): void {
    res.clearCookie(SESSION_COOKIE, { httpOnly: true, sameSite: 'strict', secure: this.secure(req), path: '/' });
  }

  private async identify(request: AuthRequest): Promise<Viewer> {
    const a = this.authorizer;
    if (a.identify) return a.identify(request);
    // An authorizer that cannot say who someone is without a wanted access: listing rights, or nothing.
    if (request.authorization === undefined) return { subject: null, allows: () => false };
    return a.authorize(request, [{ type: 'registry', name: 'catalog', actions: ['*'] }]);
  }

  private authRequest(req: Request, authorization: string | undefined): AuthRequest {
    return { authorization, baseUrl: this.baseUrl(req), remoteAddress: clientAddress(req) };
  }

  baseUrl(req: Request): string {
    return requestBaseUrl(req, this.publicUrl);
  }

  /** host[:port] as it goes into `docker pull HOST/name`. */
  registryHost(req: Request): string {
    return new URL(this.baseUrl(req)).host;
  }

  private secure(req: Request): boolean {
    return this.baseUrl(req).startsWith('https:');
  }
}

function readCookie(req: Request, name: string): string | undefined {
  const header = req.headers.cookie;
  if (!header) return undefined;
  for (const part of header.split(';')) {
    const eq = part.indexOf('=');
    if (eq < 0) continue;
    if (part.slice(0, eq).trim() === name) {
      const value = part.slice(eq + 1).trim();
      return value === '' ? undefined : value;
    }
  }
  return undefined;
}
