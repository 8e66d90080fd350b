import express, { Router, type NextFunction, type Request, type Response } from 'express';
import type { Logger } from 'pino';
import type { WebAccess } from '../api/access.js';
import { intParam, splitRepositoryPath, stringParam } from '../api/paths.js';
import { isOciError } from '../oci/errors.js';
import type { FileEntry, ReadModel, Viewer } from '../readmodel/read-model.js';
import { UiPaths, type PageContext } from './layout.js';
import { errorPage, filesPage, imagePage, repositoryListPage, repositoryPage, signInPage } from './pages.js';
import { STYLE } from './style.js';

export interface UiDeps {
  model: ReadModel;
  access: WebAccess;
  /** e.g. '/ui' */
  base: string;
  pageSize: number;
  logger: Logger;
}

/** No script runs on these pages at all; styles only from our own stylesheet. */
export const CONTENT_SECURITY_POLICY =
  "default-src 'none'; style-src 'self'; img-src 'self'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'";

const PREVIEW_FILES = 20;

/** Server-rendered pages: repository list with search, repository, image, layer files, sign-in. */
export function uiRouter(deps: UiDeps): Router {
  const paths = new UiPaths(deps.base);
  const router = Router();
  const look = async (req: Request): Promise<{ ctx: PageContext; viewer: Viewer }> => {
    const viewer = await deps.access.viewer(req);
    return { viewer, ctx: { paths, subject: viewer.subject, signInEnabled: deps.access.signInEnabled } };
  };
  const send = (res: Response, status: number, body: string) => {
    res.status(status).type('text/html; charset=utf-8').setHeader('Content-Length', Buffer.byteLength(body)).end(body);
  };
  const route = (pattern: string, h: (req: Request, res: Response) => Promise<void>) => (req: Request, res: Response, next: NextFunction) => {
    res.locals.route = `${deps.base}${pattern}`;
    h(req, res).catch(async (err: unknown) => {
      const ctx: PageContext = { paths, subject: null, signInEnabled: deps.access.signInEnabled };
      if (isOciError(err, 'NAME_UNKNOWN') || isOciError(err, 'MANIFEST_UNKNOWN') || isOciError(err, 'BLOB_UNKNOWN')) {
        send(res, 404, errorPage(ctx, 'Not found', 'There is no such repository or image, or you may not see it.'));
      } else if (isOciError(err, 'UNAUTHORIZED')) {
        send(res, 401, errorPage(ctx, 'Sign-in failed', 'The credentials sent with this request were not accepted.'));
      } else if (isOciError(err, 'TOOMANYREQUESTS')) {
        send(res, 429, errorPage(ctx, 'Too many attempts', 'Too many failed sign-ins; try again later.'));
      } else next(err);
    });
  };

  router.use((_req, res, next) => {
    res.setHeader('Content-Security-Policy', CONTENT_SECURITY_POLICY);
    res.setHeader('X-Content-Type-Options', 'nosniff');
    res.setHeader('X-Frame-Options', 'DENY');
    res.setHeader('Referrer-Policy', 'no-referrer');
    res.setHeader('Cache-Control', 'no-store');
    next();
  });

  router.get('/static/style.css', (_req, res) => {
    res.locals.route = `${deps.base}/static/style.css`;
    res.setHeader('Cache-Control', 'public, max-age=3600');
    res.type('text/css').send(STYLE);
  });

  router.get(
    '/',
    route('/', async (req, res) => {
      if (!req.originalUrl.split('?')[0]!.endsWith('/')) {
        res.redirect(301, paths.home());
        return;
      }
      const { ctx, viewer } = await look(req);
      const q = stringParam(req.query.q);
      const list = await deps.model.repositories(viewer, { q, page: { n: deps.pageSize, last: stringParam(req.query.last) } });
      send(res, 200, repositoryListPage(ctx, q, list.items, list.next));
    }),
  );

  // Matched by hand rather than with a route parameter: express would decode it and turn a malformed
  // escape (%ZZ) into a 500 before we could answer 404.
  const repositoryPages = route('/repositories/:name', async (req, res) => {
    const { ctx, viewer } = await look(req);
    const { name, sub } = splitRepositoryPath(req.path.slice('/repositories/'.length));
    if (sub.length === 0) {
      const summary = await deps.model.repository(viewer, name);
      const tags = await deps.model.tags(viewer, name, { n: deps.pageSize, last: stringParam(req.query.last) });
      send(res, 200, repositoryPage(ctx, summary, tags.items, tags.next));
    } else if (sub.length === 2 && sub[0] === 'images') {
      res.locals.route = `${deps.base}/repositories/:name/-/images/:reference`;
      const view = await deps.model.image(viewer, name, sub[1]!);
      const previews = new Map<string, FileEntry[]>();
      for (const l of view.layers) {
        if (l.state === 'ready' && l.listed) previews.set(l.digest, (await deps.model.files(viewer, name, l.digest, 0, PREVIEW_FILES)).items);
      }
      const pull = `${deps.access.registryHost(req)}/${name}${view.reference.includes(':') ? '@' : ':'}${view.reference}`;
      send(res, 200, imagePage(ctx, view, pull, previews));
    } else if (sub.length === 3 && sub[0] === 'layers' && sub[2] === 'files') {
      res.locals.route = `${deps.base}/repositories/:name/-/layers/:digest/files`;
      const offset = intParam(req.query.offset, 0, 1e9);
      const page = await deps.model.files(viewer, name, sub[1]!, offset, deps.pageSize);
      send(res, 200, filesPage(ctx, name, sub[1]!, offset, page.items, page.state === 'ready' ? (page.total ?? 0) : undefined, deps.pageSize, page.reason));
    } else {
      send(res, 404, errorPage(ctx, 'Not found', 'There is no such page.'));
    }
  });
  router.use((req, res, next) => {
    if ((req.method === 'GET' || req.method === 'HEAD') && req.path.startsWith('/repositories/')) repositoryPages(req, res, next);
    else next();
  });

  router.get(
    '/sign-in',
    route('/sign-in', async (req, res) => {
      send(res, 200, signInPage((await look(req)).ctx));
    }),
  );
  router.post(
    '/sign-in',
    express.urlencoded({ extended: false, limit: '8kb', parameterLimit: 10 }),
    route('/sign-in', async (req, res) => {
      const ctx: PageContext = { paths, subject: null, signInEnabled: deps.access.signInEnabled };
      if (!deps.access.signInEnabled) {
        send(res, 404, errorPage(ctx, 'Not found', 'Access control is off: there is nothing to sign in to.'));
        return;
      }
      const body = (req.body ?? {}) as Record<string, unknown>;
      const username = typeof body.username === 'string' ? body.username : '';
      const password = typeof body.password === 'string' ? body.password : '';
      try {
        await deps.access.signIn(req, res, username, password);
      } catch (err) {
        if (!isOciError(err, 'UNAUTHORIZED') && !isOciError(err, 'UNSUPPORTED')) throw err;
        send(res, 401, signInPage(ctx, 'Incorrect user name, password or token.'));
        return;
      }
      res.redirect(303, paths.home());
    }),
  );
  router.post(
    '/sign-out',
    route('/sign-out', async (req, res) => {
      deps.access.signOut(req, res);
      res.redirect(303, paths.home());
    }),
  );
  return router;
}
