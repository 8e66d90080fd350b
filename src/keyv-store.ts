import { createRequire } from 'node:module';
import { Keyv, type KeyvStoreAdapter } from 'keyv';

const require = createRequire(import.meta.url);

/**
 * A keyv in memory, or on Redis when a URL is configured. @keyv/redis (with the Redis client under it)
 * is ~18 MB of resident memory once loaded, a quarter of an idle server, so it is required only here,
 * when a URL is given; the callers stay synchronous.
 */
export function createKeyv(redisUrl: string | undefined, namespace: string): Keyv {
  if (redisUrl === undefined) return new Keyv({ namespace });
  const { default: KeyvRedis } = require('@keyv/redis') as { default: new (url: string) => KeyvStoreAdapter };
  return new Keyv({ store: new KeyvRedis(redisUrl), namespace });
}
