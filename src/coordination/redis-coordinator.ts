import type { Coordinator, Lease } from './coordinator.js';
import { renewEvery } from './coordinator.js';
import { processTag, type RedisConnection } from './redis-connection.js';

const RENEW = `if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('PEXPIRE', KEYS[1], ARGV[2]) else return 0 end`;
const RELEASE = `if redis.call('GET', KEYS[1]) == ARGV[1] then redis.call('DEL', KEYS[1]); redis.call('PUBLISH', KEYS[2], ARGV[2]); return 1 else return 0 end`;

/** How often a waiter looks at a lock besides being woken by a release (covers a lapsed lease). */
const POLL_MS = 250;

/**
 * Replicas (or workers with Redis configured) coordinate through Redis: a lock is `SET key token NX PX`,
 * renewed by a compare-and-PEXPIRE script and released by a compare-and-DEL script that also announces
 * the release; invalidations are PUBLISHed to every process (each ignores its own).
 */
export class RedisCoordinator implements Coordinator {
  readonly shared = true;
  private readonly self = processTag();
  private readonly listeners = new Set<(topic: string) => void>();
  private readonly waiters = new Map<string, Set<() => void>>();

  private constructor(
    private readonly redis: RedisConnection,
    private readonly prefix: string,
  ) {}

  static async create(redis: RedisConnection, prefix: string): Promise<RedisCoordinator> {
    const c = new RedisCoordinator(redis, prefix);
    await redis.subscribe(c.channel('invalidate'), (m) => {
      const at = m.indexOf('\n');
      if (at < 0 || m.slice(0, at) === c.self) return;
      const topic = m.slice(at + 1);
      for (const l of c.listeners) l(topic);
    });
    await redis.subscribe(c.channel('unlocked'), (key) => {
      const set = c.waiters.get(key);
      if (set) for (const w of [...set]) w();
    });
    return c;
  }

  async tryLock(key: string, ttlMs: number): Promise<Lease | undefined> {
    const k = this.lockKey(key);
    const token = `${this.self}:${Math.random().toString(36).slice(2)}`;
    const ok = await this.redis.cmd<string | null>(['SET', k, token, 'NX', 'PX', String(ttlMs)]);
    if (ok !== 'OK') return undefined;
    const lost = new AbortController();
    const stop = renewEvery(ttlMs, async () => (await this.redis.script<number>(RENEW, [k], [token, String(ttlMs)])) === 1, () => lost.abort());
    return {
      key,
      lost: lost.signal,
      release: async () => {
        stop();
        await this.redis.script(RELEASE, [k, this.channel('unlocked')], [token, key]);
      },
    };
  }

  async waitUnlocked(key: string, maxWaitMs: number): Promise<void> {
    const deadline = Date.now() + maxWaitMs;
    const k = this.lockKey(key);
    for (;;) {
      const ttl = await this.redis.cmd<number>(['PTTL', k]);
      if (ttl < 0 && ttl !== -1) return; // -2: no such key (released or lapsed)
      const left = deadline - Date.now();
      if (left <= 0) return;
      await this.sleepOrWake(key, Math.min(left, POLL_MS, ttl >= 0 ? ttl + 1 : POLL_MS));
    }
  }

  async invalidate(topic: string): Promise<void> {
    await this.redis.cmd(['PUBLISH', this.channel('invalidate'), `${this.self}\n${topic}`]);
  }

  onInvalidate(listener: (topic: string) => void): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  async close(): Promise<void> {
    for (const set of this.waiters.values()) for (const w of [...set]) w();
  }

  private sleepOrWake(key: string, ms: number): Promise<void> {
    return new Promise((resolve) => {
      const set = this.waiters.get(key) ?? new Set();
      this.waiters.set(key, set);
      const timer = setTimeout(done, ms);
      const waiters = this.waiters;
      function done() {
        clearTimeout(timer);
        set.delete(done);
        if (set.size === 0 && waiters.get(key) === set) waiters.delete(key);
        resolve();
      }
      set.add(done);
    });
  }

  private lockKey(key: string): string {
    return `${this.prefix}lock:${key}`;
  }

  private channel(name: string): string {
    return `${this.prefix}${name}`;
  }
}
