import express, { type Express } from 'express';
import type { Logger } from 'pino';
import { Registry as PromRegistry } from 'prom-client';
import type { Authorizer } from './auth/authorizer.js';
import { createAuth } from './auth/setup.js';
import type { Config } from './config/schema.js';
import { errorHandler } from './http/errors.js';
import { registryRouter } from './http/registry-router.js';
import { tokenRoutes } from './http/token-routes.js';
import { requestLog } from './http/request-log.js';
import { createLogger } from './log.js';
import { createMetrics, type Metrics } from './metrics/metrics.js';
import { FsMetadataIndex } from './metadata/fs-metadata-index.js';
import { createObservability } from './observability.js';
import type { MetadataIndex } from './metadata/metadata-index.js';
import { systemClock, type Clock } from './oci/types.js';
import { createMirror } from './proxy/create-mirror.js';
import { HostedResolver } from './registry/hosted-resolver.js';
import type { HostedContext } from './registry/hosted-repository.js';
import { ManifestCache } from './registry/manifest-cache.js';
import type { RepositoryResolver } from './registry/repository.js';
import { createStorage } from './storage/create-storage.js';
import { Layout } from './storage/layout.js';

export interface RegistryOverrides {
  logger?: Logger;
  clock?: Clock;
  /** Where credentials named by `passwordEnv`/`tokenEnv`/`secretEnv` are read (main.ts passes process.env). */
  env?: Readonly<Record<string, string | undefined>>;
  authorizer?: Authorizer;
}

export interface Registry {
  app: Express;
  metricsApp?: Express;
  config: Config;
  logger: Logger;
  metrics: Metrics;
  promRegistry: PromRegistry;
  /** Stops timers and closes connections to shared caches; the HTTP server is the caller's. */
  close(): Promise<void>;
}

/** Builds the whole registry from a config; does not listen, so tests can start it on port 0. */
export async function createRegistry(config: Config, overrides: RegistryOverrides = {}): Promise<Registry> {
  const logger = overrides.logger ?? createLogger(config.log.level);
  const clock = overrides.clock ?? systemClock;
  const promRegistry = new PromRegistry();
  const metrics = createMetrics(promRegistry);
  const layout = new Layout(config.storage.dataDir);
  // Blobs and upload sessions on the configured driver (filesystem, or S3 imported on demand).
  const { blobs, uploads } = await createStorage(config.storage, layout, clock, overrides.env ?? {});
  const index: MetadataIndex = new FsMetadataIndex(layout);
  const hosted: HostedContext = {
    blobs,
    uploads,
    index,
    cache: new ManifestCache(config.cache.manifestCacheEntries),
    clock,
    deleteEnabled: config.storage.deleteEnabled,
  };
  const hostedResolver = new HostedResolver(hosted, index);
  // Pull-through cache: a decorator over the hosted resolver when upstreams are configured.
  const mirror = createMirror({
    upstreams: config.upstreams,
    hostedNamespaces: config.hostedNamespaces,
    redisUrl: config.cache.redisUrl,
    env: overrides.env ?? {},
    hosted: hostedResolver,
    blobs,
    index,
    cache: hosted.cache,
    tmpDir: layout.tmpDir,
    maxManifestBytes: config.storage.maxManifestBytes,
    clock,
    metrics,
    logger,
  });
  const resolver: RepositoryResolver = mirror?.resolver ?? hostedResolver;
  // Access control (off by default: an open registry); the token endpoint exists only when it is on.
  const auth = await createAuth(config, { logger, clock, counters: metrics, env: overrides.env ?? {} });
  const authorizer = overrides.authorizer ?? auth.authorizer;

  const expiryMs = config.storage.uploadExpirySeconds * 1000;
  await uploads.purgeStale(expiryMs);
  const purgeTimer = setInterval(() => void uploads.purgeStale(expiryMs).catch(() => undefined), Math.min(expiryMs, 3600_000));
  purgeTimer.unref();

  const observability = createObservability({ config, logger, promRegistry, metrics, layout, uploads, clock });
  const app = express();
  app.disable('x-powered-by');
  app.set('etag', false);
  app.set('trust proxy', false);
  app.use(requestLog(logger));
  if (observability.httpMetrics) app.use(observability.httpMetrics);
  app.get('/healthz', (_req, res) => {
    res.json({ status: 'ok' });
  });
  observability.mount(app);
  if (auth.issuer) app.use(tokenRoutes(auth.issuer));
  app.use(registryRouter({ resolver, authorizer, maxManifestBytes: config.storage.maxManifestBytes, publicUrl: config.server.publicUrl }));
  app.use((_req, res) => {
    res.status(404).json({ errors: [{ code: 'UNSUPPORTED', message: 'not found' }] });
  });
  app.use(errorHandler(logger));

  return {
    app,
    metricsApp: observability.metricsApp,
    config,
    logger,
    metrics,
    promRegistry,
    async close() {
      clearInterval(purgeTimer);
      await mirror?.close();
      await auth.close();
    },
  };
}
