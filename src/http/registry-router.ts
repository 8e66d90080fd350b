import type { NextFunction, Request, RequestHandler, Response } from 'express';
import type { Access, Action, Authorizer, Grant } from '../auth/authorizer.js';
import { OciError } from '../oci/errors.js';
import type { RepositoryResolver } from '../registry/repository.js';
import type { Digest } from '../oci/digest.js';
import { blobHandlers } from './blob-handlers.js';
import { catalogHandler, referrersHandler, tagsHandler } from './listing-handlers.js';
import { manifestHandlers } from './manifest-handlers.js';
import { clientAddress, requestBaseUrl } from './request-origin.js';
import { API_VERSION_HEADER, matchRoute, type RouteKind, type RouteMatch } from './route.js';
import { uploadHandlers } from './upload-handlers.js';

export interface RouterDeps {
  resolver: RepositoryResolver;
  authorizer: Authorizer;
  maxManifestBytes: number;
  publicUrl?: string;
  /** Counts manifest downloads (a pull is a manifest GET, as Docker Hub counts): a map update, no I/O. */
  downloads?: { record(repo: string, digest: Digest): void };
}

export interface RouteContext {
  req: Request;
  res: Response;
  match: RouteMatch & { name: string; ref: string };
  grant: Grant;
  deps: RouterDeps;
  /** Checks an extra permission mid-request (e.g. pull on a mount source). */
  authorize(wanted: Access[]): Promise<Grant>;
}

export type RouteHandler = (ctx: RouteContext) => Promise<void>;
type MethodTable = Partial<Record<string, { action: Action; handle: RouteHandler }>>;

const TABLES: Record<Exclude<RouteKind, 'base' | 'catalog'>, MethodTable> = {
  manifest: manifestHandlers,
  blob: blobHandlers,
  uploadStart: uploadHandlers.start,
  upload: uploadHandlers.session,
  tags: { GET: { action: 'pull', handle: tagsHandler } },
  referrers: { GET: { action: 'pull', handle: referrersHandler } },
};

/** Dispatches /v2 requests; repository names may contain '/', so routing is by our own matcher. */
export function registryRouter(deps: RouterDeps): RequestHandler {
  return (req: Request, res: Response, next: NextFunction) => {
    handle(req, res, deps).then(
      (handled) => (handled ? undefined : next()),
      (err: unknown) => next(err),
    );
  };
}

async function handle(req: Request, res: Response, deps: RouterDeps): Promise<boolean> {
  res.setHeader(...API_VERSION_HEADER);
  const match = matchRoute(req.path);
  if (!match) {
    if (!req.path.startsWith('/v2/')) return false;
    throw new OciError('NAME_UNKNOWN', 'no such endpoint', { status: 404 });
  }
  res.locals.route = match.pattern;
  const method = req.method === 'HEAD' && match.kind !== 'base' ? 'HEAD' : req.method;
  const authRequest = () => ({ authorization: req.headers.authorization, baseUrl: baseUrl(req, deps), remoteAddress: clientAddress(req) });
  const authorize = (wanted: Access[]) => deps.authorizer.authorize(authRequest(), wanted);

  if (match.kind === 'base') {
    if (method !== 'GET' && method !== 'HEAD') throw notAllowed();
    const grant = await authorize([]);
    res.locals.subject = grant.subject;
    res.status(200).type('application/json').end(method === 'HEAD' ? undefined : '{}');
    return true;
  }
  if (match.kind === 'catalog') {
    if (method !== 'GET') throw notAllowed();
    const grant = await authorize([{ type: 'registry', name: 'catalog', actions: ['*'] }]);
    res.locals.subject = grant.subject;
    await catalogHandler(req, res, deps, grant);
    return true;
  }
  const entry = TABLES[match.kind][method];
  if (!entry) throw notAllowed();
  const name = match.name!;
  const grant = await authorize([{ type: 'repository', name, actions: [entry.action] }]);
  res.locals.subject = grant.subject;
  await entry.handle({ req, res, match: { ...match, name, ref: match.ref ?? '' }, grant, deps, authorize });
  return true;
}

export function baseUrl(req: Request, deps: RouterDeps): string {
  return requestBaseUrl(req, deps.publicUrl);
}

function notAllowed(): OciError {
  return new OciError('UNSUPPORTED', 'method not allowed on this endpoint');
}

/** The resolver's hint from containerd's `?ns=<registry host>`. */
export function namespaceHint(req: Request): { namespace?: string } {
  const ns = req.query.ns;
  return typeof ns === 'string' && ns.length > 0 ? { namespace: ns } : {};
}
