import { renewEvery, type Coordinator, type Lease } from './coordinator.js';
import { LockTable } from './lock-table.js';
import { PendingReplies, type PrimaryChannel as GenericPrimaryChannel } from './primary-channel.js';

/**
 * Workers of one machine without Redis: the cluster primary is the broker. It holds the lock table and
 * relays invalidations; workers ask it over the IPC channel node:cluster already opened. Chosen over lock
 * files because the primary sees a worker exit at once (its locks are freed then, no lease to wait out),
 * and because invalidations need a channel anyway; the primary runs no registry code, so it stays idle.
 */

type Request =
  | { op: 'lock'; key: string; ttl: number }
  | { op: 'renew'; key: string; token: string; ttl: number }
  | { op: 'release'; key: string; token: string }
  | { op: 'wait'; key: string; maxWait: number }
  | { op: 'invalidate'; topic: string };

interface RequestMessage {
  coord: 'req';
  id: number;
  req: Request;
}
interface ReplyMessage {
  coord: 'reply';
  id: number;
  result: string | boolean | null;
}
interface InvalidatedMessage {
  coord: 'invalidated';
  topic: string;
}
type Message = RequestMessage | ReplyMessage | InvalidatedMessage;

function isMessage(m: unknown): m is Message {
  return typeof m === 'object' && m !== null && typeof (m as { coord?: unknown }).coord === 'string';
}

/** The part of a cluster worker the primary talks to (node:cluster's Worker fits). */
export interface BrokerPeer {
  readonly id: number;
  send(message: Message): boolean;
}

/** Runs in the primary: answers its workers' coordination requests. */
export class CoordinationBroker {
  private readonly locks = new LockTable();
  private readonly peers = new Map<number, BrokerPeer>();

  add(peer: BrokerPeer): void {
    this.peers.set(peer.id, peer);
  }

  /** A worker exited: drop it and free its locks, so waiting workers take its fills over now. */
  remove(peerId: number): void {
    this.peers.delete(peerId);
    this.locks.releaseOwner(String(peerId));
  }

  handle(from: BrokerPeer, message: unknown): void {
    if (!isMessage(message) || message.coord !== 'req') return;
    const reply = (result: string | boolean | null) => {
      if (this.peers.has(from.id)) from.send({ coord: 'reply', id: message.id, result });
    };
    const r = message.req;
    switch (r.op) {
      case 'lock':
        return reply(this.locks.tryLock(r.key, r.ttl, String(from.id)) ?? null);
      case 'renew':
        return reply(this.locks.renew(r.key, r.token, r.ttl));
      case 'release':
        this.locks.release(r.key, r.token);
        return reply(true);
      case 'wait':
        void this.locks.waitUnlocked(r.key, r.maxWait).then(() => reply(true));
        return;
      case 'invalidate':
        for (const peer of this.peers.values()) if (peer.id !== from.id) peer.send({ coord: 'invalidated', topic: r.topic });
        return reply(true);
    }
  }
}

/** The channel a worker has to its primary, carrying the coordinator's messages. */
export type PrimaryChannel = GenericPrimaryChannel<Message>;

/** Runs in each worker: the Coordinator whose state lives in the primary. */
export class IpcCoordinator implements Coordinator {
  readonly shared = true;
  private readonly replies = new PendingReplies<string | boolean | null>();
  private readonly listeners = new Set<(topic: string) => void>();
  private readonly onMessage = (m: unknown) => {
    if (!isMessage(m)) return;
    if (m.coord === 'reply') {
      this.replies.settle(m.id, m.result);
    } else if (m.coord === 'invalidated') {
      for (const l of this.listeners) l(m.topic);
    }
  };

  constructor(private readonly channel: PrimaryChannel) {
    if (!channel.send) throw new Error('IpcCoordinator needs a cluster worker (no IPC channel to a primary)');
    channel.on('message', this.onMessage);
  }

  async tryLock(key: string, ttlMs: number): Promise<Lease | undefined> {
    const token = await this.ask({ op: 'lock', key, ttl: ttlMs });
    if (typeof token !== 'string') return undefined;
    const lost = new AbortController();
    const stop = renewEvery(ttlMs, async () => (await this.ask({ op: 'renew', key, token, ttl: ttlMs })) === true, () => lost.abort());
    return {
      key,
      lost: lost.signal,
      release: async () => {
        stop();
        await this.ask({ op: 'release', key, token });
      },
    };
  }

  async waitUnlocked(key: string, maxWaitMs: number): Promise<void> {
    await this.ask({ op: 'wait', key, maxWait: maxWaitMs });
  }

  async invalidate(topic: string): Promise<void> {
    await this.ask({ op: 'invalidate', topic });
  }

  onInvalidate(listener: (topic: string) => void): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  async close(): Promise<void> {
    this.channel.off('message', this.onMessage);
    this.replies.close(null);
  }

  private ask(req: Request): Promise<string | boolean | null> {
    return this.replies.ask((id) => this.channel.send!({ coord: 'req', id, req }));
  }
}
