import type { RequestListener } from 'node:http';
import express, { type Express } from 'express';
import type { Logger } from 'pino';
import { Registry as PromRegistry } from 'prom-client';
import { OpenAuthorizer, type Authorizer } from './auth/authorizer.js';
import type { Auth } from './auth/setup.js';
import type { Config } from './config/schema.js';
import { errorHandler } from './http/errors.js';
import { hotManifestLane, type Instrument } from './http/hot-manifests.js';
import { registryRouter } from './http/registry-router.js';
import { tokenRoutes } from './http/token-routes.js';
import { requestLog } from './http/request-log.js';
import { createLogger } from './log.js';
import { createMetrics, type Metrics } from './metrics/metrics.js';
import { FsMetadataIndex } from './metadata/fs-metadata-index.js';
import { createObservability } from './observability.js';
import type { MetadataIndex } from './metadata/metadata-index.js';
import { systemClock, type Clock } from './oci/types.js';
import { ContentIntegrity } from './lifecycle/integrity.js';
import { startStoreMaintenance } from './lifecycle/store-maintenance.js';
import { Lifecycle } from './lifecycle/lifecycle.js';
import { createWeb } from './ui/mount.js';
import type { ClusterMetrics } from './cluster/cluster-metrics.js';
import type { Coordinator } from './coordination/coordinator.js';
import { createScaleOut } from './coordination/setup.js';
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
  /** A cluster worker's coordinator (the primary over IPC), from main.ts; in-process when absent. */
  coordinator?: Coordinator;
  /** A cluster worker's link to the other workers' metrics, from main.ts: /metrics then shows the whole cluster. */
  clusterMetrics?: ClusterMetrics;
}

export interface Registry {
  /** What the HTTP server runs: in-memory manifest hits first, everything else through `app`. */
  handler: RequestListener;
  app: Express;
  metricsApp?: Express;
  config: Config;
  logger: Logger;
  metrics: Metrics;
  promRegistry: PromRegistry;
  /** Eviction, GC and trash (issue 11); tests and the bench drive runs through it. */
  lifecycle: Lifecycle;
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
  // Workers and replicas: which index, and how processes sharing the store agree (src/coordination/).
  // Integrity (issue 10): stored bytes verified as read, corrupt content quarantined (src/lifecycle/).
  const integrity = new ContentIntegrity({ blobs, metrics, logger, verifyBlobReads: config.storage.verifyBlobReads });
  const fsIndex = () => new FsMetadataIndex(layout, (file, reason, movedTo) => integrity.unreadableRecord(file, reason, movedTo));
  const scaleOut = await createScaleOut(config, { logger, blobs, fsIndex, coordinator: overrides.coordinator });
  const index: MetadataIndex = scaleOut.index;
  const cache = new ManifestCache(config.cache.manifestCacheEntries, { staleBoundMs: config.coordination.staleBoundMs, coordinator: scaleOut.coordinator });
  // Eviction, GC, trash (issue 11): decides what goes; started below once everything is built.
  const lifecycle = new Lifecycle({ config, dataDir: layout.root, tmpDir: layout.tmpDir, index, blobs, uploads, clock, logger, metrics, caches: cache, coordinator: scaleOut.coordinator });
  const hosted: HostedContext = {
    blobs,
    uploads,
    index,
    cache,
    clock,
    deleteEnabled: config.storage.deleteEnabled,
    integrity,
    trash: lifecycle.trash,
    live: lifecycle.live,
  };
  const hostedResolver = new HostedResolver(hosted, index);
  // Pull-through cache: a decorator over the hosted resolver when upstreams are configured. Its modules
  // (upstream client, token cache, keyv, fills) load only then: a hosted-only registry starts lighter.
  const mirror = config.upstreams.some((u) => u.enabled) ? (await import('./proxy/create-mirror.js')).createMirror({
    upstreams: config.upstreams,
    hostedNamespaces: config.hostedNamespaces,
    redisUrl: config.cache.redisUrl,
    fillOwnership: scaleOut.fillOwnership,
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
    integrity,
    activity: lifecycle.activity,
  }) : undefined;
  const resolver: RepositoryResolver = mirror?.resolver ?? hostedResolver;
  // Access control (off by default: an open registry); the token endpoint exists only when it is on.
  // Access control's modules (JWT, password hashing, OIDC) load only when it is on: an open registry starts lighter.
  const auth: Auth = config.auth.enabled
    ? await (await import('./auth/setup.js')).createAuth(config, { logger, clock, counters: metrics, env: overrides.env ?? {} })
    : { authorizer: new OpenAuthorizer(), close: async () => undefined };
  const authorizer = overrides.authorizer ?? auth.authorizer;

  const expiryMs = config.storage.uploadExpirySeconds * 1000;
  await uploads.purgeStale(expiryMs);
  const purgeTimer = setInterval(() => void uploads.purgeStale(expiryMs).catch(() => undefined), Math.min(expiryMs, 3600_000));
  purgeTimer.unref();
  await lifecycle.start();
  const maintenance = await startStoreMaintenance({ settings: config.storage, layout, blobs, integrity, logger, metrics });

  const observability = createObservability({ config, logger, promRegistry, metrics, layout, uploads, clock, cluster: overrides.clusterMetrics });
  const app = express();
  app.disable('x-powered-by');
  app.set('etag', false);
  // Off unless configured: X-Forwarded-* from an untrusted peer would pick the token realm and the address
  // that failed logins are counted under.
  app.set('trust proxy', config.server.trustProxy);
  const instruments = [requestLog(logger), ...(observability.httpMetrics ? [observability.httpMetrics] : [])];
  for (const instrument of instruments) app.use(instrument);
  app.get('/healthz', (_req, res) => {
    res.json({ status: 'ok' });
  });
  observability.mount(app);
  if (auth.issuer) app.use(tokenRoutes(auth.issuer));
  // Pages, JSON API, /v1/search and download counts (issue 13).
  const web = await createWeb({ config, dataDir: layout.root, tmpDir: layout.tmpDir, index, blobs, authorizer, issuer: auth.issuer, clock, logger, metrics });
  app.use(registryRouter({ resolver, authorizer, maxManifestBytes: config.storage.maxManifestBytes, publicUrl: config.server.publicUrl, downloads: web?.parts.downloads }));
  web?.mount(app);
  app.use((_req, res) => {
    res.status(404).json({ errors: [{ code: 'UNSUPPORTED', message: 'not found' }] });
  });
  app.use(errorHandler(logger, { onStoreFull: () => metrics.storeFullErrors.inc() }));

  const handler = hotManifestLane({ resolver, authorizer, downloads: web?.parts.downloads, instruments: instruments as unknown as Instrument[] }, app);

  return {
    handler,
    app,
    metricsApp: observability.metricsApp,
    config,
    logger,
    metrics,
    promRegistry,
    lifecycle,
    async close() {
      clearInterval(purgeTimer);
      await lifecycle.close();
      await maintenance.close();
      await mirror?.close();
      await auth.close();
      await web?.close();
      hosted.cache.close();
      await scaleOut.close();
    },
  };
}
