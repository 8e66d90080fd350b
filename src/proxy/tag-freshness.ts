import type { Keyv } from 'keyv';
import { isDigest, type Digest } from '../oci/digest.js';
import type { Clock } from '../oci/types.js';

interface Freshness {
  digest: Digest;
  checkedAt: number;
}

/** Bounds how long a record lingers in a shared store; freshness itself is decided by the TTL and clock. */
const STORE_TTL_MS = 7 * 24 * 3600 * 1000;

/**
 * When each cached tag was last confirmed upstream, on keyv (shared by replicas with Redis). Losing it
 * is harmless: an unknown tag is simply revalidated with one HEAD.
 */
export class TagFreshness {
  constructor(
    private readonly store: Keyv,
    private readonly clock: Clock,
  ) {}

  async isFresh(repo: string, tag: string, digest: Digest, ttlSeconds: number): Promise<boolean> {
    const f = (await this.store.get<Freshness>(key(repo, tag))) ?? undefined;
    if (!f || !isDigest(String(f.digest)) || f.digest !== digest) return false;
    const age = this.clock.now() - f.checkedAt;
    return age >= 0 && age < ttlSeconds * 1000;
  }

  async confirm(repo: string, tag: string, digest: Digest): Promise<void> {
    await this.store.set(key(repo, tag), { digest, checkedAt: this.clock.now() } satisfies Freshness, STORE_TTL_MS);
  }
}

function key(repo: string, tag: string): string {
  return `tag-fresh:${repo}:${tag}`;
}
