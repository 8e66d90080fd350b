/**
 * What several workers (node:cluster) or replicas (hosts behind a load balancer) sharing one store must
 * agree on, behind one interface with three backings: in-process (one worker: nothing to share), the
 * cluster primary over IPC (several workers, no other server), and Redis (replicas, or workers with
 * Redis configured).
 *
 * - Locks with leases: whoever holds `key` renews its lease while it works; a holder that dies stops
 *   renewing and the lease lapses after `ttlMs`, so another process takes the work over (bounded time).
 * - Fill ownership is a lock on the fill's key (see fill-ownership.ts).
 * - Cache invalidation: a writer announces a changed key before it answers its client; every other
 *   process drops that key from its in-process caches.
 */
export interface Coordinator {
  /** False for the in-process backing: no other process shares the store, caches need no bound. */
  readonly shared: boolean;
  /** Takes the lock on `key` if free (or its lease lapsed); undefined when another holder has it. */
  tryLock(key: string, ttlMs: number): Promise<Lease | undefined>;
  /**
   * Resolves once `key` is unlocked (released, or its lease lapsed) or after `maxWaitMs`, whichever
   * comes first; the caller then checks the outcome and may try to take the lock itself.
   */
  waitUnlocked(key: string, maxWaitMs: number): Promise<void>;
  /** Tells every other process sharing the store that `topic` changed; resolves once sent. */
  invalidate(topic: string): Promise<void>;
  /** Listens to other processes' invalidations; returns the unsubscribe function. */
  onInvalidate(listener: (topic: string) => void): () => void;
  close(): Promise<void>;
}

export interface Lease {
  readonly key: string;
  /** Fires if the lease could not be renewed (another process may own the key now). */
  readonly lost: AbortSignal;
  /** Stops renewing and frees the key; waiters wake at once. */
  release(): Promise<void>;
}

/** Renews a lease every third of its lifetime until released; calls `onLost` when a renewal fails. */
export function renewEvery(ttlMs: number, renew: () => Promise<boolean>, onLost: () => void): () => void {
  let stopped = false;
  const timer = setInterval(() => {
    void renew().then(
      (ok) => {
        if (!ok && !stopped) onLost();
      },
      () => {
        if (!stopped) onLost();
      },
    );
  }, Math.max(Math.floor(ttlMs / 3), 10));
  timer.unref();
  return () => {
    stopped = true;
    clearInterval(timer);
  };
}

/** Invalidation topics, one spelling for writers and caches. */
export const topics = {
  tag: (repo: string, tag: string) => `tag\n${repo}\n${tag}`,
  manifest: (repo: string, digest: string) => `manifest\n${repo}\n${digest}`,
  parse(topic: string): { kind: string; repo: string; key: string } | undefined {
    const [kind, repo, key] = topic.split('\n');
    return kind && repo !== undefined && key !== undefined ? { kind, repo, key } : undefined;
  },
};
