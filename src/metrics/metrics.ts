import { Counter, Gauge, Histogram, type Registry as PromRegistry } from 'prom-client';

/**
 * Every metric the registry exports, created on one prom-client Registry (built in app.ts, so two
 * registries can live in one process). Labels are bounded: route patterns, never repository names.
 * With server.workers > 1 a scrape aggregates every worker's registry (src/cluster/cluster-metrics.ts):
 * counters, histograms and per-process gauges are summed (prom-client's default); gauges describing the
 * shared store say 'first' (the answering worker's own scan), those only the lifecycle leader sets 'max'.
 */
export function createMetrics(registry: PromRegistry) {
  const registers = [registry];
  const metrics = {
    // HTTP
    httpRequests: new Counter({ name: 'registry_http_requests_total', help: 'HTTP requests by method, route pattern and status', labelNames: ['method', 'route', 'status'] as const, registers }),
    httpDuration: new Histogram({
      name: 'registry_http_request_duration_seconds',
      help: 'HTTP request duration by method and route pattern',
      labelNames: ['method', 'route'] as const,
      buckets: [0.001, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60],
      registers,
    }),
    httpReceivedBytes: new Counter({ name: 'registry_http_received_bytes_total', help: 'Request bytes received, by route pattern', labelNames: ['route'] as const, registers }),
    httpSentBytes: new Counter({ name: 'registry_http_sent_bytes_total', help: 'Response bytes sent, by route pattern', labelNames: ['route'] as const, registers }),
    httpInFlight: new Gauge({ name: 'registry_http_requests_in_flight', help: 'HTTP requests being served', registers }),

    // Pull-through cache
    cacheHits: new Counter({ name: 'registry_cache_hits_total', help: 'Mirror requests served from the cache', labelNames: ['kind', 'upstream'] as const, registers }),
    cacheMisses: new Counter({ name: 'registry_cache_misses_total', help: 'Mirror requests that needed the upstream', labelNames: ['kind', 'upstream'] as const, registers }),
    cacheStaleServed: new Counter({ name: 'registry_cache_stale_served_total', help: 'Cached tags served because the upstream failed', labelNames: ['kind', 'upstream'] as const, registers }),
    cacheEvictions: new Counter({ name: 'registry_cache_evictions_total', help: 'Cached blobs evicted', labelNames: ['upstream'] as const, registers }),
    cacheEvictedBytes: new Counter({ name: 'registry_cache_evicted_bytes_total', help: 'Bytes of cached blobs evicted', labelNames: ['upstream'] as const, registers }),
    cacheEvictionRuns: new Counter({ name: 'registry_cache_eviction_runs_total', help: 'Eviction passes that removed something, by result', labelNames: ['result'] as const, registers }),
    cacheEvictionLastDuration: new Gauge({ name: 'registry_cache_eviction_last_duration_seconds', help: 'Duration of the last eviction pass', aggregator: 'max', registers }),
    cacheBytes: new Gauge({ name: 'registry_cache_bytes', help: 'Bytes of cached-only (mirrored, not hosted) content at the last eviction check', aggregator: 'max', registers }),
    cacheMaxBytes: new Gauge({ name: 'registry_cache_max_bytes', help: 'The cache cap (cache.maxBytes); absent when unset', aggregator: 'max', registers }),
    cacheHostedOverCap: new Gauge({ name: 'registry_cache_hosted_over_cap', help: '1 when hosted content alone exceeds cache.maxBytes (hosted content is never evicted)', aggregator: 'max', registers }),

    // Garbage collection and trash (issue 11)
    gcRuns: new Counter({ name: 'registry_gc_runs_total', help: 'Garbage collection runs, by result', labelNames: ['result'] as const, registers }),
    gcReclaimedBlobs: new Counter({ name: 'registry_gc_reclaimed_blobs_total', help: 'Blobs reclaimed by garbage collection', registers }),
    gcReclaimedBytes: new Counter({ name: 'registry_gc_reclaimed_bytes_total', help: 'Bytes reclaimed by garbage collection', registers }),
    gcLastDuration: new Gauge({ name: 'registry_gc_last_duration_seconds', help: 'Duration of the last garbage collection run', aggregator: 'max', registers }),
    gcLastSuccess: new Gauge({ name: 'registry_gc_last_success_timestamp_seconds', help: 'When the last garbage collection run finished without error', aggregator: 'max', registers }),

    // Upstream
    upstreamRequests: new Counter({ name: 'registry_upstream_requests_total', help: 'Requests sent to upstreams, by status (or "error")', labelNames: ['upstream', 'status'] as const, registers }),
    upstreamDuration: new Histogram({
      name: 'registry_upstream_fetch_duration_seconds',
      help: 'Upstream fetch duration by kind (manifest, blob, tags, token)',
      labelNames: ['upstream', 'kind'] as const,
      buckets: [0.005, 0.01, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 120],
      registers,
    }),
    upstreamBytes: new Counter({ name: 'registry_upstream_fetched_bytes_total', help: 'Bytes fetched from upstreams', labelNames: ['upstream'] as const, registers }),
    upstreamTokenFetches: new Counter({ name: 'registry_upstream_token_fetches_total', help: 'Tokens fetched from upstream token services', labelNames: ['upstream', 'result'] as const, registers }),
    upstreamDigestMismatches: new Counter({ name: 'registry_upstream_digest_mismatches_total', help: 'Upstream content whose digest did not match (nothing cached)', labelNames: ['upstream'] as const, registers }),
    upstreamFetchFailures: new Counter({ name: 'registry_upstream_fetch_failures_total', help: 'Upstream blob fetches that failed mid-way (nothing cached)', labelNames: ['upstream', 'reason'] as const, registers }),
    upstreamRateLimited: new Counter({ name: 'registry_upstream_rate_limited_total', help: 'Upstream answers of 429 Too Many Requests', labelNames: ['upstream'] as const, registers }),
    upstreamRateLimitRemaining: new Gauge({ name: 'registry_upstream_ratelimit_remaining', help: "Last seen upstream ratelimit-remaining (Docker Hub's pull allowance)", labelNames: ['upstream'] as const, aggregator: 'min', registers }),

    // Store
    uploadsInProgress: new Gauge({ name: 'registry_uploads_in_progress', help: 'Blob upload sessions open', registers }),
    uploadFailures: new Counter({ name: 'registry_upload_failures_total', help: 'Failed blob uploads by reason (error code)', labelNames: ['reason'] as const, registers }),
    // Set at scrape time from a scan of the data folder (reused for metrics.storeScanIntervalSeconds).
    storeBlobs: new Gauge({ name: 'registry_store_blobs', help: 'Blobs in the store (manifests included) by origin: hosted, cached (mirrored only), unreferenced', labelNames: ['origin'] as const, aggregator: 'first', registers }),
    storeBytes: new Gauge({ name: 'registry_store_bytes', help: 'Bytes of blobs in the store by origin: hosted, cached (mirrored only), unreferenced', labelNames: ['origin'] as const, aggregator: 'first', registers }),
    storeFilesystemAvailable: new Gauge({ name: 'registry_store_filesystem_avail_bytes', help: 'Bytes available to the registry on the filesystem of the data folder', aggregator: 'first', registers }),
    storeFilesystemSize: new Gauge({ name: 'registry_store_filesystem_size_bytes', help: 'Size in bytes of the filesystem of the data folder', aggregator: 'first', registers }),
    storeFilesystemMinFree: new Gauge({ name: 'registry_store_filesystem_min_free_bytes', help: 'Free-space floor (storage.minFreeBytes): /readyz reports the store not ready below it', aggregator: 'first', registers }),
    storeFullErrors: new Counter({ name: 'registry_store_full_errors_total', help: 'Writes that failed because the data filesystem was full (ENOSPC/EDQUOT), answered 507', registers }),
    storeCorrupt: new Counter({ name: 'registry_store_corrupt_total', help: 'Stored content found corrupt and quarantined, by kind: blob, manifest, record', labelNames: ['kind'] as const, registers }),
    storeBlobsVerified: new Counter({ name: 'registry_store_blobs_verified_total', help: 'Blobs whose stored bytes were hashed and matched their digest, by path: read (inline on GET), scrub', labelNames: ['path'] as const, registers }),
    storeTempFilesSwept: new Counter({ name: 'registry_store_temp_files_swept_total', help: 'Temp files removed because no live process owned them (a killed fill or upload)', registers }),

    // Pages and JSON API (issue 13)
    uiLayerAnalyses: new Counter({ name: 'registry_ui_layer_analyses_total', help: 'Layers read once for their file list and checksums, by result (listed, unlisted, failed)', labelNames: ['result'] as const, registers }),
    uiDownloadFlushes: new Counter({ name: 'registry_ui_download_flushes_total', help: 'Batched writes of download counts, by result', labelNames: ['result'] as const, registers }),

    // Auth
    authLogins: new Counter({ name: 'registry_auth_logins_total', help: 'Login attempts (token requests and Basic auth) by method (password, token, oidc) and result', labelNames: ['method', 'result'] as const, registers }),
    authJwksFetches: new Counter({ name: 'registry_auth_oidc_jwks_fetches_total', help: 'Fetches of OIDC issuer keys (discovery + JWKS) by issuer and result', labelNames: ['issuer', 'result'] as const, registers }),
    authDenials: new Counter({ name: 'registry_auth_denials_total', help: 'Requests denied by access control, by reason', labelNames: ['reason'] as const, registers }),
  };
  // Series of a small fixed label set exist from the start at 0, so the set of series does not change
  // while the registry runs (the first scrub pass, a minute after start, would otherwise add path="scrub").
  for (const path of ['read', 'scrub']) metrics.storeBlobsVerified.inc({ path }, 0);
  for (const kind of ['blob', 'manifest', 'record']) metrics.storeCorrupt.inc({ kind }, 0);
  for (const result of ['ok', 'error']) {
    metrics.gcRuns.inc({ result }, 0);
    metrics.cacheEvictionRuns.inc({ result }, 0);
  }
  return metrics;
}

export type Metrics = ReturnType<typeof createMetrics>;
