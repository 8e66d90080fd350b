import { randomUUID } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { topics } from '../../../src/coordination/coordinator.js';
import { connectRedis, type RedisConnection } from '../../../src/coordination/redis-connection.js';
import { RedisCoordinator } from '../../../src/coordination/redis-coordinator.js';
import { startRedis, type RunningRedis } from '../../helpers/redis.js';

/** Two "replicas" (two connections, two coordinators) against one real redis-server. */
let redis: RunningRedis;
const conns: RedisConnection[] = [];
let a: RedisCoordinator;
let b: RedisCoordinator;
const prefix = `t:${randomUUID()}:`;

beforeAll(async () => {
  redis = await startRedis();
  for (let i = 0; i < 2; i++) conns.push(await connectRedis(redis.url));
  a = await RedisCoordinator.create(conns[0]!, prefix);
  b = await RedisCoordinator.create(conns[1]!, prefix);
});
afterAll(async () => {
  await a?.close();
  await b?.close();
  for (const c of conns) await c.close();
  await redis?.stop();
});

describe('RedisCoordinator', () => {
  it('one holder at a time; a release wakes the waiter at once', async () => {
    const lease = await a.tryLock('fill:one', 10_000);
    expect(lease).toBeDefined();
    expect(await b.tryLock('fill:one', 10_000)).toBeUndefined();
    const t = Date.now();
    const waited = b.waitUnlocked('fill:one', 10_000);
    await new Promise((r) => setTimeout(r, 50));
    await lease!.release();
    await waited;
    expect(Date.now() - t).toBeLessThan(2000);
    const next = await b.tryLock('fill:one', 10_000);
    expect(next).toBeDefined();
    await next!.release();
  });

  it('a held lease is renewed past its lifetime; a holder that stops renewing loses it after the lease', async () => {
    const held = await a.tryLock('fill:renewed', 300);
    await new Promise((r) => setTimeout(r, 700));
    expect(await b.tryLock('fill:renewed', 300)).toBeUndefined();
    await held!.release();

    // A "dead" holder: its lock key as a crashed process leaves it (RedisCoordinator's key layout), nobody renewing.
    await conns[0]!.cmd(['SET', `${prefix}lock:fill:dead`, 'gone', 'PX', '400']);
    expect(await b.tryLock('fill:dead', 5_000)).toBeUndefined();
    const t = Date.now();
    await b.waitUnlocked('fill:dead', 5_000);
    expect(Date.now() - t).toBeLessThan(1500);
    expect(await b.tryLock('fill:dead', 5_000)).toBeDefined();
  });

  it('invalidations reach the other process, not the sender', async () => {
    const seenA: string[] = [];
    const seenB: string[] = [];
    a.onInvalidate((t) => seenA.push(t));
    b.onInvalidate((t) => seenB.push(t));
    await a.invalidate(topics.tag('lib/app', 'v1'));
    const deadline = Date.now() + 2000;
    while (seenB.length === 0 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 5));
    expect(seenB).toEqual([topics.tag('lib/app', 'v1')]);
    expect(seenA).toEqual([]);
  });
});
