import { renewEvery, type Coordinator, type Lease } from './coordinator.js';
import { LockTable } from './lock-table.js';

/**
 * One worker, nothing shared: locks live in this process and there is nobody to tell about changes.
 * The default for `createRegistry` and for `server.workers: 1`.
 */
export class InProcessCoordinator implements Coordinator {
  readonly shared = false;
  private readonly locks = new LockTable();

  async tryLock(key: string, ttlMs: number): Promise<Lease | undefined> {
    return leaseOn(this.locks, key, ttlMs, 'self');
  }

  waitUnlocked(key: string, maxWaitMs: number): Promise<void> {
    return this.locks.waitUnlocked(key, maxWaitMs);
  }

  async invalidate(): Promise<void> {}

  onInvalidate(): () => void {
    return () => undefined;
  }

  async close(): Promise<void> {}
}

/** A Lease over a LockTable entry, renewed while held. */
export function leaseOn(locks: LockTable, key: string, ttlMs: number, owner: string): Lease | undefined {
  const token = locks.tryLock(key, ttlMs, owner);
  if (token === undefined) return undefined;
  const lost = new AbortController();
  const stop = renewEvery(ttlMs, async () => locks.renew(key, token, ttlMs), () => lost.abort());
  return {
    key,
    lost: lost.signal,
    async release() {
      stop();
      locks.release(key, token);
    },
  };
}
