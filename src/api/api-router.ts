import { Router, type NextFunction, type Request, type Response } from 'express';
import { OciError } from '../oci/errors.js';
import type { ReadModel } from '../readmodel/read-model.js';
import type { WebAccess } from './access.js';
import { intParam, splitRepositoryPath, stringParam } from './paths.js';

export interface ApiDeps {
  model: ReadModel;
  access: WebAccess;
  pageSize: number;
}

type Handler = (req: Request, res: Response) => Promise<void>;

function wrap(h: Handler) {
  return (req: Request, res: Response, next: NextFunction) => {
    h(req, res).catch(next);
  };
}

/** The JSON API under /api/ that the pages are built from; the same access rules as the pages. */
export function apiRouter(deps: ApiDeps): Router {
  const router = Router();
  router.use((_req, res, next) => {
    res.setHeader('Cache-Control', 'no-store');
    res.setHeader('X-Content-Type-Options', 'nosniff');
    next();
  });
  router.get(
    '/repositories',
    wrap(async (req, res) => {
      res.locals.route = '/api/repositories';
      const viewer = await deps.access.viewer(req);
      const n = intParam(req.query.n, deps.pageSize, 1000);
      const page = await deps.model.repositories(viewer, { q: stringParam(req.query.q), page: { n, last: stringParam(req.query.last) } });
      res.json({ repositories: page.items, next: page.next ?? null });
    }),
  );
  // Matched by hand rather than with a route parameter: express would decode it and turn a malformed
  // escape (%ZZ) into a 500 before we could answer 404.
  const repositoryRoutes = wrap(async (req, res) => {
    const viewer = await deps.access.viewer(req);
    const { name, sub } = splitRepositoryPath(req.path.slice('/repositories/'.length));
    if (sub.length === 0) {
      res.locals.route = '/api/repositories/:name';
      res.json(await deps.model.repository(viewer, name));
    } else if (sub.length === 1 && sub[0] === 'tags') {
      res.locals.route = '/api/repositories/:name/-/tags';
      const n = intParam(req.query.n, deps.pageSize, 1000);
      const page = await deps.model.tags(viewer, name, { n, last: stringParam(req.query.last) });
      res.json({ name, tags: page.items, next: page.next ?? null });
    } else if (sub.length === 2 && sub[0] === 'images') {
      res.locals.route = '/api/repositories/:name/-/images/:reference';
      const image = await deps.model.image(viewer, name, sub[1]!);
      res.json({ ...image, pull: `${deps.access.registryHost(req)}/${name}${image.reference.includes(':') ? '@' : ':'}${image.reference}` });
    } else if (sub.length === 3 && sub[0] === 'layers' && sub[2] === 'files') {
      res.locals.route = '/api/repositories/:name/-/layers/:digest/files';
      const offset = intParam(req.query.offset, 0, 1e9);
      const limit = intParam(req.query.limit, deps.pageSize, 5000);
      res.json(await deps.model.files(viewer, name, sub[1]!, offset, limit));
    } else {
      throw new OciError('UNSUPPORTED', 'no such endpoint', { status: 404 });
    }
  });
  router.use((req, res, next) => {
    if ((req.method === 'GET' || req.method === 'HEAD') && req.path.startsWith('/repositories/')) repositoryRoutes(req, res, next);
    else next();
  });
  return router;
}
