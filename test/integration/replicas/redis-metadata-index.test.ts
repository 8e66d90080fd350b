import { randomUUID } from 'node:crypto';
import { afterAll, beforeAll } from 'vitest';
import { connectRedis, type RedisConnection } from '../../../src/coordination/redis-connection.js';
import { RedisMetadataIndex } from '../../../src/metadata/redis-metadata-index.js';
import { startRedis, type RunningRedis } from '../../helpers/redis.js';
import { metadataIndexSuite } from '../../suites/metadata-index-suite.js';

let redis: RunningRedis;
let conn: RedisConnection;
beforeAll(async () => {
  redis = await startRedis({ appendonly: true });
  conn = await connectRedis(redis.url);
});
afterAll(async () => {
  await conn?.close();
  await redis?.stop();
});

// One Redis for the file; each case gets its own key prefix, so each starts empty.
metadataIndexSuite('Redis (RedisMetadataIndex)', async () => ({
  index: new RedisMetadataIndex(conn, `test:${randomUUID()}:`),
  cleanup: async () => undefined,
}));
