import type { Keyv } from 'keyv';
import type { Clock } from '../oci/types.js';

interface StoredToken {
  token: string;
  /** When the token stops being used (its expiry minus the margin), by the injected clock. */
  useUntil: number;
}

/**
 * Upstream bearer tokens on keyv, per upstream and scope, so replicas sharing Redis share tokens.
 * keyv's own TTL (wall clock) bounds storage; the injected clock decides freshness, so expiry tests
 * can advance time instead of sleeping.
 */
export class TokenCache {
  constructor(
    private readonly store: Keyv,
    private readonly clock: Clock,
  ) {}

  async get(upstream: string, scope: string): Promise<string | undefined> {
    const stored = (await this.store.get<StoredToken>(key(upstream, scope))) ?? undefined;
    if (!stored || typeof stored.token !== 'string' || stored.useUntil <= this.clock.now()) return undefined;
    return stored.token;
  }

  async set(upstream: string, scope: string, token: string, lifetimeMs: number): Promise<void> {
    if (lifetimeMs <= 0) return;
    const value: StoredToken = { token, useUntil: this.clock.now() + lifetimeMs };
    await this.store.set(key(upstream, scope), value, lifetimeMs);
  }

  async delete(upstream: string, scope: string): Promise<void> {
    await this.store.delete(key(upstream, scope));
  }
}

function key(upstream: string, scope: string): string {
  return `upstream-token:${upstream}:${scope}`;
}

/**
 * How long to use a token: its lifetime minus the margin; for tokens shorter than twice the margin
 * (test servers, strict token services) half the lifetime, so a short token is still reused a little.
 */
export function usableLifetimeMs(expiresInSeconds: number, marginSeconds: number): number {
  const lifetime = expiresInSeconds * 1000;
  const margin = marginSeconds * 1000;
  return lifetime > 2 * margin ? lifetime - margin : Math.floor(lifetime / 2);
}
