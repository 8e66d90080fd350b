import type { Logger } from 'pino';
import type { Config } from '../config/schema.js';
import type { MetadataIndex } from '../metadata/metadata-index.js';
import type { BlobStore } from '../storage/blob-store.js';
import type { Coordinator } from './coordinator.js';
import { FillOwnership } from './fill-ownership.js';
import { InProcessCoordinator } from './in-process-coordinator.js';
import { withInvalidation } from './invalidating-index.js';
import { connectRedis, type RedisConnection } from './redis-connection.js';

export interface ScaleOut {
  coordinator: Coordinator;
  /** The index writers use: the shared one when configured, announcing changes when others share it. */
  index: MetadataIndex;
  /** Mirror fill ownership across processes; undefined with one worker. */
  fillOwnership: FillOwnership | undefined;
  close(): Promise<void>;
}

/**
 * Picks the coordinator and the index from config. Redis coordinates when `coordination.redisUrl` is set
 * or the index itself is in Redis (replicas sharing an index share a store); otherwise the coordinator
 * main.ts passes for a cluster worker (the primary over IPC); otherwise in-process. Redis is imported
 * only on these paths, so a registry without Redis loads none of it.
 */
export async function createScaleOut(
  config: Config,
  deps: { logger: Logger; blobs: BlobStore; fsIndex: () => MetadataIndex; coordinator?: Coordinator },
): Promise<ScaleOut> {
  const connections: RedisConnection[] = [];
  const connect = async (url: string) => {
    const c = await connectRedis(url, deps.logger);
    connections.push(c);
    return c;
  };
  let base: MetadataIndex;
  if (config.metadata.driver === 'redis') {
    const url = config.metadata.redisUrl ?? config.cache.redisUrl;
    if (!url) throw new Error('metadata.driver redis needs metadata.redisUrl (or cache.redisUrl)');
    const { RedisMetadataIndex } = await import('../metadata/redis-metadata-index.js');
    base = new RedisMetadataIndex(await connect(url), config.metadata.keyPrefix);
  } else {
    base = deps.fsIndex();
  }
  const redisUrl = config.coordination.redisUrl ?? (config.metadata.driver === 'redis' ? (config.metadata.redisUrl ?? config.cache.redisUrl) : undefined);
  let coordinator: Coordinator;
  if (redisUrl) {
    const { RedisCoordinator } = await import('./redis-coordinator.js');
    coordinator = await RedisCoordinator.create(await connect(redisUrl), config.coordination.keyPrefix);
  } else {
    coordinator = deps.coordinator ?? new InProcessCoordinator();
  }
  const leaseMs = config.coordination.leaseSeconds * 1000;
  return {
    coordinator,
    index: withInvalidation(base, coordinator),
    fillOwnership: coordinator.shared ? new FillOwnership(coordinator, deps.blobs, leaseMs) : undefined,
    async close() {
      await coordinator.close();
      await Promise.allSettled(connections.map((c) => c.close()));
    },
  };
}
