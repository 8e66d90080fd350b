import express, { type NextFunction, type Request, type Response, type Router } from 'express';
import type { TokenIssuer, TokenRequest } from '../auth/token-issuer.js';
import { clientAddress } from './request-origin.js';

/**
 * The registry's token endpoint, the realm of its Bearer challenges:
 * - `GET /token?service=…&scope=…[&offline_token=true]` with optional Basic credentials (docker, podman, skopeo);
 * - `POST /token` OAuth2 form, `grant_type=password` or `refresh_token` (containerd with --user, docker's identity tokens).
 * Both answer `{token, access_token, expires_in, issued_at[, refresh_token]}`; errors go to the one error handler.
 */
export function tokenRoutes(issuer: TokenIssuer, path = '/token'): Router {
  const router = express.Router();
  // A token form has a handful of fields: a small body, few parameters, no compression (no inflation bomb).
  // The parser's errors (413, 415, 400) reach the error handler with their own status (errors.ts).
  const parseForm = express.urlencoded({ extended: false, limit: '16kb', parameterLimit: 100, inflate: false });
  // The route label is set before the body is parsed, so a refused body is still counted under /token.
  const form = (req: Request, res: Response, next: NextFunction) => {
    res.locals.route = path;
    parseForm(req, res, next);
  };

  router.get(path, async (req: Request, res: Response) => {
    res.locals.route = path;
    const request: TokenRequest = {
      authorization: req.headers.authorization,
      scopes: strings(req.query.scope),
      offline: req.query.offline_token === 'true',
      remoteAddress: clientAddress(req),
    };
    send(res, await issuer.issue(request));
  });

  router.post(path, form, async (req: Request, res: Response) => {
    res.locals.route = path;
    const body = (typeof req.body === 'object' && req.body !== null ? req.body : {}) as Record<string, unknown>;
    const request: TokenRequest = {
      grantType: first(body.grant_type) ?? '',
      username: first(body.username),
      password: first(body.password),
      refreshToken: first(body.refresh_token),
      scopes: strings(body.scope),
      offline: first(body.access_type) === 'offline',
      remoteAddress: clientAddress(req),
    };
    send(res, await issuer.issue(request));
  });

  return router;
}

function send(res: Response, body: object): void {
  // Tokens are credentials: no shared cache may keep them.
  res.setHeader('Cache-Control', 'no-store');
  res.setHeader('Pragma', 'no-cache');
  res.status(200).json(body);
}

function strings(value: unknown): string[] {
  if (typeof value === 'string') return [value];
  if (Array.isArray(value)) return value.filter((v): v is string => typeof v === 'string');
  return [];
}

function first(value: unknown): string | undefined {
  return strings(value)[0];
}
