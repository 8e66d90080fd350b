import type { Keyv } from 'keyv';
import { createKeyv } from '../keyv-store.js';

/**
 * The keyv instance for state replicas may share: upstream tokens, tag freshness, short upstream
 * listings. In memory by default (entries per scope, cached tag and listed page: bounded by what the
 * cache holds); Redis when a URL is configured. Created by the app factory, never at module level,
 * so one process can hold two registries.
 */
export function createSharedCache(redisUrl: string | undefined): Keyv {
  return createKeyv(redisUrl, 'registry');
}
