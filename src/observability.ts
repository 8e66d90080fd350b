import express, { type Express, type RequestHandler } from 'express';
import type { Logger } from 'pino';
import { AggregatorRegistry, collectDefaultMetrics, type Registry as PromRegistry } from 'prom-client';
import type { ClusterMetrics } from './cluster/cluster-metrics.js';
import type { Config } from './config/schema.js';
import { pingRedis } from './health/redis-ping.js';
import { readinessHandler, type ReadinessChecks } from './http/health-handlers.js';
import { metricsEndpoint } from './http/metrics-endpoint.js';
import { metricsMiddleware } from './http/metrics-middleware.js';
import { StoreUsageScanner, type UsageOrigin } from './metadata/store-usage.js';
import type { Metrics } from './metrics/metrics.js';
import type { Clock } from './oci/types.js';
import type { Layout } from './storage/layout.js';
import { checkFreeSpace, checkStoreWritable } from './storage/writable-check.js';

export interface ObservabilityDeps {
  config: Config;
  logger: Logger;
  promRegistry: PromRegistry;
  metrics: Metrics;
  layout: Layout;
  uploads: { readonly inProgress: number };
  clock: Clock;
  /** In a cluster worker: the other workers' metrics, so a scrape answers for the whole cluster. */
  cluster?: ClusterMetrics;
}

export interface Observability {
  /** Per-request HTTP metrics, to install before the routes; undefined when metrics are disabled. */
  httpMetrics?: RequestHandler;
  /** Adds GET /readyz, and GET <metrics.path> when metrics share the registry's port. */
  mount(app: Express): void;
  /** The separate metrics listener's app (metrics.port > 0); main.ts listens on it. */
  metricsApp?: Express;
}

const ORIGINS: readonly UsageOrigin[] = ['hosted', 'cached', 'unreferenced'];

/**
 * Metrics endpoint, HTTP metrics and readiness (issue 5), composed here so app.ts needs only a
 * few lines. The HTTP layer gets functions (render, checks), never the data folder.
 */
export function createObservability(deps: ObservabilityDeps): Observability {
  const { config, promRegistry, metrics, logger } = deps;
  const settings = config.metrics;
  const floor = config.storage.minFreeBytes;
  const checks: Record<string, () => Promise<void>> = {
    // Not ready under the free-space floor, before writes start failing with 507.
    store: async () => {
      await checkFreeSpace(deps.layout, floor);
      await checkStoreWritable(deps.layout);
    },
  };
  const redisUrl = config.cache.redisUrl;
  if (redisUrl) checks.redis = () => pingRedis(redisUrl);
  const readyz = readinessHandler(checks satisfies ReadinessChecks);

  if (!settings.enabled) return { mount: (app) => void app.get('/readyz', readyz) };

  // On this app's registry, not prom-client's global one: two registries can share a process.
  if (settings.processMetrics) {
    collectDefaultMetrics({ register: promRegistry });
    // Gauges named *_total break the Prometheus naming rules (promtool check metrics rejects them);
    // they are only sums of nodejs_active_handles / _requests / _resources, which stay.
    for (const name of ['nodejs_active_handles_total', 'nodejs_active_requests_total', 'nodejs_active_resources_total']) {
      promRegistry.removeSingleMetric(name);
    }
  }

  const scanner = new StoreUsageScanner(deps.layout, deps.clock);
  // Gauges of this process only, refreshed before its registry is read (its own scrape or another worker's).
  const refreshLocal = () => {
    metrics.uploadsInProgress.set(deps.uploads.inProgress);
    metrics.storeFilesystemMinFree.set(floor);
  };
  const render = async () => {
    try {
      const usage = await scanner.snapshot(settings.storeScanIntervalSeconds * 1000);
      for (const origin of ORIGINS) {
        metrics.storeBlobs.set({ origin }, usage.blobs[origin].count);
        metrics.storeBytes.set({ origin }, usage.blobs[origin].bytes);
      }
      if (usage.filesystem) {
        metrics.storeFilesystemAvailable.set(usage.filesystem.availableBytes);
        metrics.storeFilesystemSize.set(usage.filesystem.sizeBytes);
      }
    } catch (err) {
      // Keep serving the other metrics; the store gauges keep their last values.
      logger.warn({ err }, 'store usage scan failed');
    }
    refreshLocal();
    const cluster = deps.cluster;
    if (!cluster) return { contentType: promRegistry.contentType, body: await promRegistry.metrics() };
    // Workers: this registry first, so gauges aggregated as 'first' (the store scan) are this scrape's own.
    const [own, peers] = await Promise.all([promRegistry.getMetricsAsJSON(), cluster.peers()]);
    const merged = AggregatorRegistry.aggregate([own, ...peers]);
    return { contentType: promRegistry.contentType, body: await merged.metrics() };
  };
  deps.cluster?.serve(async () => {
    refreshLocal();
    return promRegistry.getMetricsAsJSON();
  });
  const endpoint = metricsEndpoint({ render, route: settings.path, bearerToken: settings.bearerToken });

  let metricsApp: Express | undefined;
  if (settings.port > 0) {
    metricsApp = express();
    metricsApp.disable('x-powered-by');
    metricsApp.set('etag', false);
    metricsApp.get(settings.path, endpoint);
    // Probes often live on the internal port too, next to the metrics.
    metricsApp.get('/healthz', (_req, res) => void res.json({ status: 'ok' }));
    metricsApp.get('/readyz', readyz);
  }

  return {
    httpMetrics: metricsMiddleware(metrics),
    metricsApp,
    mount(app) {
      app.get('/readyz', readyz);
      if (!metricsApp) app.get(settings.path, endpoint);
    },
  };
}
