import type { Logger } from 'pino';
import type { UpstreamConfig } from '../config/upstreams-schema.js';
import type { FillOwnership } from '../coordination/fill-ownership.js';
import type { ContentIntegrity } from '../lifecycle/integrity.js';
import type { MetadataIndex } from '../metadata/metadata-index.js';
import type { Metrics } from '../metrics/metrics.js';
import type { Clock } from '../oci/types.js';
import type { ManifestCache } from '../registry/manifest-cache.js';
import type { RepositoryResolver } from '../registry/repository.js';
import type { BlobStore } from '../storage/blob-store.js';
import { Authenticator } from '../upstream/authenticator.js';
import { resolveCredentials } from '../upstream/credentials.js';
import { HttpTransport } from '../upstream/http-transport.js';
import { createSharedCache } from '../upstream/shared-cache.js';
import { TokenCache } from '../upstream/token-cache.js';
import { HttpUpstreamClient } from '../upstream/upstream-client.js';
import { BlobFills } from './blob-fills.js';
import type { MirrorContext } from './mirror-context.js';
import { MirrorResolver } from './mirror-resolver.js';
import { SingleFlight } from './single-flight.js';
import { TagFreshness } from './tag-freshness.js';
import { UpstreamRouter, type MirrorUpstream } from './upstream-router.js';

export interface MirrorDeps {
  upstreams: readonly UpstreamConfig[];
  /** Names under these prefixes are hosted only (never routed upstream). */
  hostedNamespaces?: readonly string[];
  redisUrl: string | undefined;
  /** Which process fills a blob when workers or replicas share the store (absent: one process). */
  fillOwnership?: FillOwnership;
  /** Where `passwordEnv`-style credentials are looked up. */
  env: Readonly<Record<string, string | undefined>>;
  hosted: RepositoryResolver;
  blobs: BlobStore;
  index: MetadataIndex;
  cache: ManifestCache;
  /** Temp folder on the store's file system, so a verified fill is renamed into place. */
  tmpDir: string;
  maxManifestBytes: number;
  clock: Clock;
  metrics: Metrics;
  logger: Logger;
  /** Verifies cached bytes as they are served (issue 10). */
  integrity?: ContentIntegrity;
  /** Last-use and in-flight reports for eviction and GC (issue 11). */
  activity?: MirrorContext['activity'];
}

export interface Mirror {
  resolver: RepositoryResolver;
  close(): Promise<void>;
}

/** Builds the pull-through cache from config; undefined when no upstream is enabled (plain hosted registry). */
export function createMirror(d: MirrorDeps): Mirror | undefined {
  const enabled = d.upstreams.filter((u) => u.enabled);
  if (enabled.length === 0) return undefined;
  const shared = createSharedCache(d.redisUrl);
  const tokens = new TokenCache(shared, d.clock);
  const transports: HttpTransport[] = [];
  const upstreams: MirrorUpstream[] = enabled.map((config) => {
    const logger = d.logger.child({ upstream: config.name });
    const transport = new HttpTransport(config.maxConcurrency * 2, config.timeoutSeconds * 1000);
    transports.push(transport);
    const credentials = resolveCredentials(config.name, config.credentials, d.env);
    const auth = new Authenticator({ upstream: config.name, credentials, tokens, transport, metrics: d.metrics, logger, marginSeconds: config.tokenMarginSeconds });
    const client = new HttpUpstreamClient({
      name: config.name,
      baseUrl: config.url,
      transport,
      auth,
      maxConcurrency: config.maxConcurrency,
      maxManifestBytes: d.maxManifestBytes,
      metrics: d.metrics,
      logger,
    });
    return { config, client };
  });
  const fills = new BlobFills({ blobs: d.blobs, index: d.index, tmpDir: d.tmpDir, metrics: d.metrics, logger: d.logger }, d.fillOwnership);
  const ctx = {
    blobs: d.blobs,
    index: d.index,
    cache: d.cache,
    clock: d.clock,
    fills,
    flights: new SingleFlight(),
    freshness: new TagFreshness(shared, d.clock),
    lists: shared,
    metrics: d.metrics,
    logger: d.logger,
    integrity: d.integrity,
    activity: d.activity,
  };
  d.logger.info({ upstreams: enabled.map((u) => ({ name: u.name, url: u.url, prefix: u.prefix, default: u.default })) }, 'pull-through cache enabled');
  return {
    resolver: new MirrorResolver(d.hosted, new UpstreamRouter(upstreams, d.hostedNamespaces), ctx),
    async close() {
      await fills.close();
      for (const t of transports) t.close();
      await shared.disconnect().catch(() => undefined);
    },
  };
}
