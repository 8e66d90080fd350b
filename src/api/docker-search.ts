import { Router, type NextFunction, type Request, type Response } from 'express';
import type { ReadModel } from '../readmodel/read-model.js';
import type { WebAccess } from './access.js';
import { intParam, stringParam } from './paths.js';

/**
 * Docker's classic search endpoint, in the shape the Docker daemon reads, so `docker search
 * HOST:PORT/term` finds repositories by name and description. The daemon first pings /v1/_ping.
 */
export function dockerSearchRouter(model: ReadModel, access: WebAccess): Router {
  const router = Router();
  router.get('/v1/_ping', (_req, res) => {
    res.locals.route = '/v1/_ping';
    res.setHeader('X-Docker-Registry-Standalone', 'true');
    res.json({ standalone: true });
  });
  router.get('/v1/search', (req: Request, res: Response, next: NextFunction) => {
    res.locals.route = '/v1/search';
    (async () => {
      const viewer = await access.viewer(req);
      const query = stringParam(req.query.q) ?? '';
      const pageSize = intParam(req.query.n, 25, 100) || 25;
      const page = Math.max(1, intParam(req.query.page, 1, 1e6));
      const all = (await model.repositories(viewer, { q: query })).items;
      const results = all.slice((page - 1) * pageSize, page * pageSize).map((r) => ({
        name: r.name,
        description: r.description ?? '',
        star_count: 0,
        is_official: false,
        is_automated: false,
      }));
      res.setHeader('Cache-Control', 'no-store');
      res.json({ num_results: all.length, query, page, page_size: pageSize, num_pages: Math.max(1, Math.ceil(all.length / pageSize)), results });
    })().catch(next);
  });
  return router;
}
