import { randomUUID } from 'node:crypto';

interface Held {
  token: string;
  owner: string;
  expiresAt: number;
}

/**
 * Leased locks in one process's memory: the in-process coordinator's table, and the cluster primary's
 * table that its workers share over IPC. Expiry is checked when a key is looked at, and waiters are
 * woken on release or when the lease they wait on lapses.
 */
export class LockTable {
  private readonly held = new Map<string, Held>();
  private readonly waiters = new Map<string, Set<() => void>>();

  constructor(private readonly now: () => number = Date.now) {}

  tryLock(key: string, ttlMs: number, owner: string): string | undefined {
    if (this.current(key)) return undefined;
    const token = randomUUID();
    this.held.set(key, { token, owner, expiresAt: this.now() + ttlMs });
    return token;
  }

  renew(key: string, token: string, ttlMs: number): boolean {
    const h = this.current(key);
    if (!h || h.token !== token) return false;
    h.expiresAt = this.now() + ttlMs;
    return true;
  }

  release(key: string, token: string): void {
    const h = this.held.get(key);
    if (h?.token !== token) return;
    this.held.delete(key);
    this.wake(key);
  }

  /** Frees everything `owner` held (a worker that exited): its waiters need not wait for the leases. */
  releaseOwner(owner: string): void {
    for (const [key, h] of this.held) {
      if (h.owner !== owner) continue;
      this.held.delete(key);
      this.wake(key);
    }
  }

  waitUnlocked(key: string, maxWaitMs: number): Promise<void> {
    const h = this.current(key);
    if (!h) return Promise.resolve();
    return new Promise((resolve) => {
      const set = this.waiters.get(key) ?? new Set();
      this.waiters.set(key, set);
      // Wake at the lease's end too: a holder that vanished without releasing is over then.
      const timer = setTimeout(done, Math.max(0, Math.min(maxWaitMs, h.expiresAt - this.now() + 1)));
      function done() {
        clearTimeout(timer);
        set.delete(done);
        resolve();
      }
      set.add(done);
    });
  }

  get size(): number {
    return this.held.size;
  }

  private current(key: string): Held | undefined {
    const h = this.held.get(key);
    if (h && h.expiresAt <= this.now()) {
      this.held.delete(key);
      return undefined;
    }
    return h;
  }

  private wake(key: string): void {
    const set = this.waiters.get(key);
    if (!set) return;
    this.waiters.delete(key);
    for (const w of [...set]) w();
  }
}
