import { describe, expect, it } from 'vitest';
import { CoordinationBroker, IpcCoordinator, type BrokerPeer, type PrimaryChannel } from '../../../src/coordination/ipc-coordinator.js';
import { InProcessCoordinator } from '../../../src/coordination/in-process-coordinator.js';
import { LockTable } from '../../../src/coordination/lock-table.js';
import type { Coordinator } from '../../../src/coordination/coordinator.js';
import { topics } from '../../../src/coordination/coordinator.js';

describe('LockTable', () => {
  it('one holder per key; a lapsed lease frees the key; only the holder renews or releases', () => {
    let now = 1000;
    const t = new LockTable(() => now);
    const token = t.tryLock('k', 100, 'a')!;
    expect(token).toBeTypeOf('string');
    expect(t.tryLock('k', 100, 'b')).toBeUndefined();
    expect(t.renew('k', 'wrong', 100)).toBe(false);
    now += 90;
    expect(t.renew('k', token, 100)).toBe(true);
    now += 90;
    expect(t.tryLock('k', 100, 'b')).toBeUndefined();
    now += 20;
    const other = t.tryLock('k', 100, 'b');
    expect(other).toBeTypeOf('string');
    t.release('k', token); // the old holder's release must not free the new holder's lock
    expect(t.tryLock('k', 100, 'c')).toBeUndefined();
    t.releaseOwner('b');
    expect(t.tryLock('k', 100, 'c')).toBeTypeOf('string');
  });

  it('wakes waiters on release', async () => {
    const t = new LockTable();
    const token = t.tryLock('k', 60_000, 'a')!;
    let woke = false;
    const waiting = t.waitUnlocked('k', 60_000).then(() => (woke = true));
    await new Promise((r) => setTimeout(r, 10));
    expect(woke).toBe(false);
    t.release('k', token);
    await waiting;
    expect(woke).toBe(true);
  });
});

/** Two IPC workers wired to one broker in memory, as node:cluster wires them over pipes. */
function cluster(): { a: Coordinator; b: Coordinator; broker: CoordinationBroker } {
  const broker = new CoordinationBroker();
  const make = (id: number): Coordinator => {
    const listeners = new Set<(m: unknown) => void>();
    const peer: BrokerPeer = { id, send: (m) => (queueMicrotask(() => listeners.forEach((l) => l(m))), true) };
    const channel: PrimaryChannel = {
      send: (m) => (queueMicrotask(() => broker.handle(peer, m)), true),
      on: (_e, l) => listeners.add(l),
      off: (_e, l) => listeners.delete(l),
    };
    broker.add(peer);
    return new IpcCoordinator(channel);
  };
  return { a: make(1), b: make(2), broker };
}

describe('IpcCoordinator through the primary broker', () => {
  it('locks across workers and frees a dead worker’s locks at once', async () => {
    const { a, b, broker } = cluster();
    const lease = await a.tryLock('fill:x', 60_000);
    expect(lease).toBeDefined();
    expect(await b.tryLock('fill:x', 60_000)).toBeUndefined();
    const waited = b.waitUnlocked('fill:x', 60_000);
    broker.remove(1); // worker 1 exited
    await waited;
    expect(await b.tryLock('fill:x', 60_000)).toBeDefined();
  });

  it('relays invalidations to the other workers, not back to the sender', async () => {
    const { a, b } = cluster();
    const seenA: string[] = [];
    const seenB: string[] = [];
    a.onInvalidate((t) => seenA.push(t));
    b.onInvalidate((t) => seenB.push(t));
    await a.invalidate(topics.tag('lib/app', 'latest'));
    // The reply comes after the broker sent the relay: by then it has been delivered.
    await new Promise((r) => setTimeout(r, 0));
    expect(seenB).toEqual([topics.tag('lib/app', 'latest')]);
    expect(seenA).toEqual([]);
    expect(topics.parse(seenB[0]!)).toEqual({ kind: 'tag', repo: 'lib/app', key: 'latest' });
  });
});

describe('InProcessCoordinator', () => {
  it('is not shared and single-flights locks in the process', async () => {
    const c = new InProcessCoordinator();
    expect(c.shared).toBe(false);
    const lease = await c.tryLock('k', 1000);
    expect(await c.tryLock('k', 1000)).toBeUndefined();
    await lease!.release();
    expect(await c.tryLock('k', 1000)).toBeDefined();
  });
});
