import type { Keyv } from 'keyv';
import type { ContentIntegrity } from '../lifecycle/integrity.js';
import type { Logger } from 'pino';
import type { MetadataIndex } from '../metadata/metadata-index.js';
import type { Digest } from '../oci/digest.js';
import type { Metrics } from '../metrics/metrics.js';
import type { Clock } from '../oci/types.js';
import type { ManifestCache } from '../registry/manifest-cache.js';
import type { BlobStore } from '../storage/blob-store.js';
import type { BlobFills } from './blob-fills.js';
import type { SingleFlight } from './single-flight.js';
import type { TagFreshness } from './tag-freshness.js';

/** Everything mirrored repositories share; built once per registry in create-mirror.ts. */
export interface MirrorContext {
  blobs: BlobStore;
  index: MetadataIndex;
  /** The hosted side's hot cache: written through when the mirror stores a manifest or moves a tag. */
  cache: ManifestCache;
  clock: Clock;
  fills: BlobFills;
  flights: SingleFlight;
  freshness: TagFreshness;
  /** Short-lived upstream listings (tags, referrers). */
  lists: Keyv;
  metrics: Metrics;
  logger: Logger;
  /** Verifies cached bytes as they are served; a corrupt copy is quarantined and refetched (issue 10). */
  integrity?: ContentIntegrity | undefined;
  /** Last use and in-flight marks for eviction and GC (issue 11); every call returns at once. */
  activity?: {
    used(repo: string, d: Digest): void;
    hold(d: Digest): () => void;
    filling(fill: { readonly digest: Digest; readonly size: number | undefined; readonly done: Promise<void> }): void;
  };
}
