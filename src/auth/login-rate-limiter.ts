import type { Keyv } from 'keyv';
import type { Clock } from '../oci/types.js';

export interface RateLimits {
  readonly windowSeconds: number;
  readonly maxFailuresPerIp: number;
  readonly maxFailuresPerUser: number;
}

interface Counter {
  count: number;
  /** Epoch ms when the window that started with the first failure ends. */
  resetAt: number;
}

/**
 * Counts failed logins per source address and per user name in fixed windows that start with the
 * first failure. Counters live on keyv (memory, or Redis shared by replicas); the window is compared
 * with the injected clock, the keyv TTL only cleans up.
 */
export class LoginRateLimiter {
  constructor(
    private readonly store: Keyv<Counter>,
    private readonly limits: RateLimits,
    private readonly clock: Clock,
  ) {}

  /** Seconds to wait when the source or the user is over its limit; undefined when a login may be tried. */
  async blockedFor(ip: string | undefined, user: string | undefined): Promise<number | undefined> {
    const now = this.clock.now();
    let wait = 0;
    for (const [key, max] of this.keys(ip, user)) {
      const c = await this.store.get(key);
      if (c && c.resetAt > now && c.count >= max) wait = Math.max(wait, Math.ceil((c.resetAt - now) / 1000));
    }
    return wait > 0 ? wait : undefined;
  }

  async recordFailure(ip: string | undefined, user: string | undefined): Promise<void> {
    const now = this.clock.now();
    const windowMs = this.limits.windowSeconds * 1000;
    for (const [key] of this.keys(ip, user)) {
      // Read-then-write is not atomic on keyv; a lost increment under a burst only delays the block by one try.
      const c = await this.store.get(key);
      const next: Counter = c && c.resetAt > now ? { count: c.count + 1, resetAt: c.resetAt } : { count: 1, resetAt: now + windowMs };
      await this.store.set(key, next, windowMs);
    }
  }

  private keys(ip: string | undefined, user: string | undefined): Array<[string, number]> {
    const keys: Array<[string, number]> = [];
    if (ip) keys.push([`ip:${ip}`, this.limits.maxFailuresPerIp]);
    if (user) keys.push([`user:${user.toLowerCase()}`, this.limits.maxFailuresPerUser]);
    return keys;
  }
}

/**
 * A Map that forgets its oldest entry beyond `max` (insertion order): keyv's memory store for the counters.
 * Keyv only treats real Maps as memory stores, so this extends Map rather than wrapping an LRU cache.
 */
export class BoundedMap<K, V> extends Map<K, V> {
  constructor(private readonly max: number) {
    super();
  }

  override set(key: K, value: V): this {
    if (!this.has(key) && this.size >= this.max) {
      const oldest = this.keys().next();
      if (!oldest.done) this.delete(oldest.value);
    }
    return super.set(key, value);
  }
}
