import type { MetricObjectWithValues, MetricValue } from 'prom-client';
import { PendingReplies, type PrimaryChannel } from '../coordination/primary-channel.js';

/**
 * Cluster-wide /metrics (server.workers > 1). node:cluster hands each scrape to one worker, and a
 * worker's registry holds only what that worker counted. So the worker answering a scrape asks the
 * primary, the primary asks every other worker for its registry as JSON and hands the lot back, and the
 * answering worker aggregates them with its own (prom-client's AggregatorRegistry.aggregate, using each
 * metric's `aggregator`). The answering worker does it, not the primary, because the scrape arrives at a
 * worker (the registry port or the separate metrics port are both served by the workers); prom-client's
 * own cluster listeners only let the primary ask, and would not let a worker refresh its gauges first.
 */

export type MetricsJson = MetricObjectWithValues<MetricValue<string>>[];

interface CollectMessage {
  clusterMetrics: 'collect';
  id: number;
}
interface CollectedMessage {
  clusterMetrics: 'collected';
  id: number;
  metrics: MetricsJson[];
}
interface ReportMessage {
  clusterMetrics: 'report';
  id: number;
}
interface ReportedMessage {
  clusterMetrics: 'reported';
  id: number;
  metrics?: MetricsJson;
}
type Message = CollectMessage | CollectedMessage | ReportMessage | ReportedMessage;

function isMessage(m: unknown): m is Message {
  return typeof m === 'object' && m !== null && typeof (m as { clusterMetrics?: unknown }).clusterMetrics === 'string';
}

/** The part of a cluster worker the primary talks to (node:cluster's Worker fits). */
export interface MetricsPeer {
  readonly id: number;
  send(message: Message): boolean;
  isConnected(): boolean;
}

/** A worker that does not answer within this time is left out of that scrape (it may be restarting). */
const REPORT_TIMEOUT_MS = 3000;

/** Runs in the primary: relays a scrape's collection from one worker to all the others. */
export class MetricsBroker {
  private readonly peers = new Map<number, MetricsPeer>();
  private nextId = 1;
  private readonly pending = new Map<number, { waiting: Set<number>; metrics: MetricsJson[]; finish(): void }>();

  add(peer: MetricsPeer): void {
    this.peers.set(peer.id, peer);
  }

  remove(peerId: number): void {
    this.peers.delete(peerId);
    for (const p of this.pending.values()) {
      if (p.waiting.delete(peerId) && p.waiting.size === 0) p.finish();
    }
  }

  handle(from: MetricsPeer, message: unknown): void {
    if (!isMessage(message)) return;
    if (message.clusterMetrics === 'collect') this.collect(from, message.id);
    else if (message.clusterMetrics === 'reported') {
      const p = this.pending.get(message.id);
      if (!p || !p.waiting.delete(from.id)) return;
      if (message.metrics) p.metrics.push(message.metrics);
      if (p.waiting.size === 0) p.finish();
    }
  }

  private collect(requester: MetricsPeer, requestId: number): void {
    const id = this.nextId++;
    const others = [...this.peers.values()].filter((p) => p.id !== requester.id && p.isConnected());
    const entry = { waiting: new Set(others.map((p) => p.id)), metrics: [] as MetricsJson[], finish: () => {} };
    const timer = setTimeout(() => entry.finish(), REPORT_TIMEOUT_MS);
    timer.unref();
    entry.finish = () => {
      clearTimeout(timer);
      this.pending.delete(id);
      if (requester.isConnected()) requester.send({ clusterMetrics: 'collected', id: requestId, metrics: entry.metrics });
    };
    this.pending.set(id, entry);
    if (others.length === 0) return entry.finish();
    for (const peer of others) peer.send({ clusterMetrics: 'report', id });
  }
}

/** The channel a worker has to its primary (node:process in a cluster worker fits). */
/** What observability needs in a cluster worker: the other workers' metrics, and a way to report its own. */
export interface ClusterMetrics {
  /** Every other worker's registry as JSON (those that answered in time). */
  peers(): Promise<MetricsJson[]>;
  /** How this worker answers another worker's scrape. */
  serve(report: () => Promise<MetricsJson>): void;
  close(): void;
}

/** Runs in each worker. */
export class WorkerClusterMetrics implements ClusterMetrics {
  private readonly replies = new PendingReplies<MetricsJson[]>();
  private report: (() => Promise<MetricsJson>) | undefined;
  private readonly onMessage = (m: unknown) => {
    if (!isMessage(m)) return;
    if (m.clusterMetrics === 'collected') {
      this.replies.settle(m.id, m.metrics);
    } else if (m.clusterMetrics === 'report') {
      const report = this.report;
      const reply = (metrics?: MetricsJson) => void this.channel.send?.({ clusterMetrics: 'reported', id: m.id, metrics });
      if (!report) return reply();
      report().then(reply, () => reply());
    }
  };

  constructor(private readonly channel: PrimaryChannel<Message>) {
    if (!channel.send) throw new Error('WorkerClusterMetrics needs a cluster worker (no IPC channel to a primary)');
    channel.on('message', this.onMessage);
  }

  peers(): Promise<MetricsJson[]> {
    // The primary answers even when workers do not (its own timeout); this one covers a lost primary.
    return this.replies.ask((id) => this.channel.send!({ clusterMetrics: 'collect', id }), { ms: REPORT_TIMEOUT_MS * 2, fallback: [] });
  }

  serve(report: () => Promise<MetricsJson>): void {
    this.report = report;
  }

  close(): void {
    this.channel.off('message', this.onMessage);
    this.replies.close([]);
  }
}
