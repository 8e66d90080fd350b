import type { Express } from 'express';
import type { Logger } from 'pino';
import { apiRouter } from '../api/api-router.js';
import { WebAccess } from '../api/access.js';
import { dockerSearchRouter } from '../api/docker-search.js';
import type { Authorizer } from '../auth/authorizer.js';
import type { TokenIssuer } from '../auth/token-issuer.js';
import type { Config } from '../config/schema.js';
import type { Clock } from '../oci/types.js';
import { createReadModel, type ReadModelParts, type ReadModelSetup } from '../readmodel/setup.js';
import { uiRouter } from './ui-router.js';

export interface WebDeps {
  config: Config;
  dataDir: string;
  tmpDir: string;
  index: ReadModelSetup['index'];
  blobs: ReadModelSetup['blobs'];
  authorizer: Authorizer;
  issuer?: TokenIssuer;
  clock: Clock;
  logger: Logger;
  metrics?: ReadModelSetup['metrics'];
}

export interface Web {
  parts: ReadModelParts;
  /** Mounts /v1/search, /api/ and the pages; call before the catch-all 404. */
  mount(app: Express): void;
  close(): Promise<void>;
}

/** Pages, JSON API and Docker search (issue 13); undefined when `ui.enabled` is false. */
export async function createWeb(d: WebDeps): Promise<Web | undefined> {
  const ui = d.config.ui;
  if (!ui.enabled) return undefined;
  const access = new WebAccess(d.authorizer, d.issuer, d.config.server.publicUrl);
  // Public means: an anonymous caller may pull it. Asked once per name, never with credentials.
  const anonymous = await (d.authorizer.identify?.({ baseUrl: 'http://localhost' }) ?? Promise.resolve({ subject: null, allows: () => false }));
  const parts = createReadModel({
    ui,
    dataDir: d.dataDir,
    tmpDir: d.tmpDir,
    index: d.index,
    blobs: d.blobs,
    upstreams: d.config.upstreams.filter((u) => u.enabled).map((u) => ({ name: u.name, prefix: u.prefix, default: u.default })),
    maxManifestBytes: d.config.storage.maxManifestBytes,
    visibility: (repo) => (anonymous.allows(repo, 'pull') ? 'public' : 'private'),
    clock: d.clock,
    logger: d.logger,
    metrics: d.metrics,
  });
  return {
    parts,
    mount(app) {
      app.use(dockerSearchRouter(parts.model, access));
      app.use('/api', apiRouter({ model: parts.model, access, pageSize: ui.pageSize }));
      app.use(ui.path, uiRouter({ model: parts.model, access, base: ui.path, pageSize: ui.pageSize, logger: d.logger }));
    },
    close: () => parts.close(),
  };
}
