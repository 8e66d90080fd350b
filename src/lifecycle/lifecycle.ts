import { join } from 'node:path';
import type { Logger } from 'pino';
import type { Config } from '../config/schema.js';
import type { Coordinator, Lease } from '../coordination/coordinator.js';
import type { MetadataIndex } from '../metadata/metadata-index.js';
import type { Metrics } from '../metrics/metrics.js';
import type { Digest } from '../oci/digest.js';
import type { Clock } from '../oci/types.js';
import type { BlobStore } from '../storage/blob-store.js';
import { CacheEvictor, type EvictionReport } from './evictor.js';
import { GarbageCollector, type GcReport } from './gc.js';
import { LastUseLog } from './last-use.js';
import { LiveBlobs, type FillView } from './live-blobs.js';
import { PidLock } from './pid-lock.js';
import { ManifestReferences } from './store-graph.js';
import { TrashBin, type CacheInvalidation } from './trash.js';

export interface LifecycleDeps {
  config: Config;
  /** <dataDir>: lifecycle state lives in <dataDir>/lifecycle, the trash in <dataDir>/trash. */
  dataDir: string;
  tmpDir: string;
  index: MetadataIndex;
  blobs: BlobStore;
  uploads?: { purgeStale?(maxAgeMs: number): Promise<number> };
  clock: Clock;
  logger: Logger;
  metrics?: Metrics;
  caches?: CacheInvalidation;
  /** Run the scheduled GC and eviction here (when this process also wins the leader lock). Default true. */
  schedule?: boolean;
  /** When shared (workers over IPC, replicas over Redis), leadership is a lease from it instead of the pid file. */
  coordinator?: Coordinator;
}

/** Who runs the scheduled work: a pid lock file on one host, or a coordinator lease across processes and hosts. */
interface Leadership {
  readonly isHeld: boolean;
  tryAcquire(): Promise<boolean>;
  release(): Promise<void>;
}

class LeaseLeadership implements Leadership {
  private lease: Lease | undefined;
  constructor(
    private readonly coordinator: Coordinator,
    private readonly ttlMs: number,
  ) {}
  get isHeld(): boolean {
    return this.lease !== undefined && !this.lease.lost.aborted;
  }
  async tryAcquire(): Promise<boolean> {
    if (this.isHeld) return true;
    this.lease = await this.coordinator.tryLock('lifecycle:leader', this.ttlMs);
    return this.lease !== undefined;
  }
  async release(): Promise<void> {
    await this.lease?.release();
    this.lease = undefined;
  }
}

/** What the mirror reports to the lifecycle; every call returns at once (no disk on the request path). */
export interface CacheActivity {
  used(repo: string, d: Digest): void;
  hold(d: Digest): () => void;
  filling(fill: FillView): void;
}

/**
 * Eviction, garbage collection and the trash for one registry process, composed from the pieces in this
 * folder. One process per data folder runs the scheduled work: the holder of <dataDir>/lifecycle/leader.lock;
 * the others only record last use (their own file, merged by the leader) and answer `activity`. Runs are
 * serialized here, and across processes (the admin CLI included) by run.lock.
 */
export class Lifecycle {
  readonly live = new LiveBlobs();
  readonly lastUse: LastUseLog;
  readonly trash: TrashBin;
  readonly gc: GarbageCollector;
  readonly evictor: CacheEvictor;
  readonly activity: CacheActivity;
  private readonly leader: Leadership;
  private readonly runLock: PidLock;
  private readonly timers: NodeJS.Timeout[] = [];
  private readonly inFlight = new Set<Promise<void>>();
  private queue: Promise<unknown> = Promise.resolve();
  private evictionPending = false;
  /** Cached bytes at the last eviction check, plus fills started since: decides when to run early. */
  private estimate = 0;
  private closed = false;

  constructor(private readonly deps: LifecycleDeps) {
    const { config, clock, logger } = deps;
    const stateDir = join(deps.dataDir, 'lifecycle');
    const refs = new ManifestReferences(deps.blobs);
    this.lastUse = new LastUseLog(join(stateDir, 'last-use'), deps.tmpDir, clock, logger);
    this.trash = new TrashBin(join(deps.dataDir, 'trash'), deps.tmpDir, config.storage.trashDays, clock);
    this.leader = deps.coordinator?.shared
      ? new LeaseLeadership(deps.coordinator, config.coordination.leaseSeconds * 1000)
      : new PidLock(join(stateDir, 'leader.lock'));
    this.runLock = new PidLock(join(stateDir, 'run.lock'));
    const common = { index: deps.index, blobs: deps.blobs, live: this.live, refs, trash: this.trash, clock, logger };
    this.gc = new GarbageCollector(
      { ...common, uploads: deps.uploads, stateDir, tmpDir: deps.tmpDir },
      { graceMs: config.storage.gc.graceSeconds * 1000, uploadExpiryMs: config.storage.uploadExpirySeconds * 1000, deletesPerSecond: config.storage.gc.deletesPerSecond },
    );
    const c = config.cache;
    this.evictor = new CacheEvictor(
      { ...common, lastUse: this.lastUse, caches: deps.caches },
      { maxBytes: c.maxBytes, highWatermark: c.highWatermark, lowWatermark: c.lowWatermark, maxIdleMs: c.maxIdleDays === undefined ? undefined : c.maxIdleDays * 86_400_000, deletesPerSecond: config.storage.gc.deletesPerSecond },
    );
    if (c.maxBytes !== undefined) deps.metrics?.cacheMaxBytes.set(c.maxBytes);
    // Last use matters only to eviction: without a cap or idle limit nothing is recorded (the bench's "off").
    const tracking = c.maxBytes !== undefined || c.maxIdleDays !== undefined;
    this.activity = {
      used: tracking ? (repo, d) => this.lastUse.record(repo, d) : () => undefined,
      hold: (d) => this.live.hold(d),
      filling: (fill) => {
        this.live.trackFill(fill);
        this.estimate += fill.size ?? 0;
        const cap = c.maxBytes;
        if (cap !== undefined && this.leader.isHeld && this.estimate > cap * c.highWatermark) this.requestEviction();
      },
    };
  }

  private get evicting(): boolean {
    return this.deps.config.cache.maxBytes !== undefined || this.deps.config.cache.maxIdleDays !== undefined;
  }

  /** Takes the leader lock if free, repairs what a crash left, starts the timers. */
  async start(): Promise<void> {
    const { config, logger } = this.deps;
    const flushMs = config.cache.lastUseFlushSeconds * 1000;
    this.every(flushMs, () => this.lastUse.flush());
    if (this.deps.schedule === false) return;
    await this.tryLead();
    const gcMs = config.storage.gc.intervalSeconds * 1000;
    if (gcMs > 0) this.every(gcMs, async () => void ((await this.tryLead()) && (await this.runGc())));
    if (this.evicting) this.every(config.cache.evictionIntervalSeconds * 1000, async () => void ((await this.tryLead()) && (await this.runEviction())));
    if (this.leader.isHeld) logger.info({ gcIntervalSeconds: config.storage.gc.intervalSeconds, maxBytes: config.cache.maxBytes }, 'lifecycle: this process runs GC and eviction');
  }

  private async tryLead(): Promise<boolean> {
    if (this.leader.isHeld) return true;
    if (!(await this.leader.tryAcquire())) return false;
    await this.serialized(() => this.recover());
    return true;
  }

  /** After a crash: blobs renamed aside by an interrupted sweep go back; links of blobs already deleted go. */
  async recover(): Promise<void> {
    const store = this.deps.blobs as BlobStore & { restoreSwept?(): Promise<number> };
    const restored = (await store.restoreSwept?.()) ?? 0;
    const links = await this.gc.recover();
    if (restored + links > 0) this.deps.logger.warn({ restored, links }, 'lifecycle: finished what an interrupted sweep left');
  }

  /** Puts a deleted tag or manifest back (`repo:tag` or `repo@digest`) while it is in the trash window. */
  restore(ref: string): ReturnType<TrashBin['restore']> {
    return this.trash.restore(ref, this.deps.index, this.deps.blobs, this.deps.caches);
  }

  requestEviction(): void {
    if (this.evictionPending || this.closed) return;
    this.evictionPending = true;
    void this.runEviction()
      .catch(() => undefined)
      .then((report) => {
        this.evictionPending = false;
        // Fills that started during the run may have pushed usage up again; only when the run could act.
        const { maxBytes, highWatermark } = this.deps.config.cache;
        if (report && report.images > 0 && maxBytes !== undefined && this.estimate > maxBytes * highWatermark) this.requestEviction();
      });
  }

  async runEviction(): Promise<EvictionReport | undefined> {
    return this.serialized(async () => {
      const { metrics, logger, config } = this.deps;
      await this.lastUse.merge(3 * config.cache.lastUseFlushSeconds * 1000);
      const startedEstimate = this.estimate;
      let report: EvictionReport;
      try {
        report = await this.evictor.run();
      } catch (err) {
        metrics?.cacheEvictionRuns.inc({ result: 'error' });
        logger.error({ err }, 'cache eviction failed');
        throw err;
      }
      this.estimate = report.cachedAfter + this.live.inFlightBytes() + (this.estimate - startedEstimate);
      metrics?.cacheBytes.set(report.cachedAfter);
      metrics?.cacheHostedOverCap.set(report.hostedOverCap ? 1 : 0);
      if (report.hostedOverCap) {
        logger.warn({ hostedBytes: report.hostedBytes, maxBytes: config.cache.maxBytes }, 'hosted content alone exceeds cache.maxBytes; hosted content is never evicted');
      }
      if (report.images > 0) {
        metrics?.cacheEvictionRuns.inc({ result: 'ok' });
        metrics?.cacheEvictionLastDuration.set(report.durationMs / 1000);
        for (const r of report.removed) {
          const upstream = upstreamOf(config, r.repo);
          metrics?.cacheEvictions.inc({ upstream });
          metrics?.cacheEvictedBytes.inc({ upstream }, r.size);
        }
        logger.info({ images: report.images, blobs: report.blobs, bytes: report.bytes, cachedBefore: report.cachedBefore, cachedAfter: report.cachedAfter, ms: Math.round(report.durationMs) }, 'evicted cached images');
      }
      return report;
    });
  }

  async runGc(options: { dryRun?: boolean } = {}): Promise<GcReport | undefined> {
    return this.serialized(async () => {
      const { metrics, logger } = this.deps;
      let report: GcReport;
      try {
        report = await this.gc.run(options);
      } catch (err) {
        metrics?.gcRuns.inc({ result: 'error' });
        logger.error({ err }, 'garbage collection failed');
        throw err;
      }
      if (!report.dryRun) {
        metrics?.gcRuns.inc({ result: 'ok' });
        metrics?.gcReclaimedBlobs.inc(report.blobs);
        metrics?.gcReclaimedBytes.inc(report.bytes);
        metrics?.gcLastDuration.set(report.durationMs / 1000);
        metrics?.gcLastSuccess.set(Date.now() / 1000);
      }
      const { reclaimed: _list, ...summary } = report;
      logger.info({ ...summary, durationMs: Math.round(report.durationMs) }, report.dryRun ? 'garbage collection (dry run)' : 'garbage collection');
      return report;
    });
  }

  /** One run at a time in this process, and across processes through run.lock (waits for it). */
  private serialized<T>(work: () => Promise<T>): Promise<T> {
    const next = this.queue.then(async () => {
      const locked = this.runLock.isHeld || (await this.runLock.acquire(10 * 60_000));
      if (!locked) throw new Error(`lifecycle run lock ${this.runLock.path} is held by pid ${await this.runLock.owner()}`);
      try {
        return await work();
      } finally {
        await this.runLock.release();
      }
    });
    this.queue = next.catch(() => undefined);
    return next;
  }

  private every(ms: number, task: () => Promise<unknown>): void {
    let running: Promise<void> | undefined;
    const timer = setInterval(() => {
      if (running || this.closed) return;
      running = task()
        .then(() => undefined, (err: unknown) => this.deps.logger.warn({ err: (err as Error).message }, 'lifecycle task failed'))
        .finally(() => {
          this.inFlight.delete(running!);
          running = undefined;
        });
      this.inFlight.add(running);
    }, ms);
    timer.unref();
    this.timers.push(timer);
  }

  async close(): Promise<void> {
    this.closed = true;
    for (const t of this.timers) clearInterval(t);
    // A timer task already running (e.g. a last-use flush) still writes into the data folder: wait for it.
    await Promise.all(this.inFlight);
    await this.queue;
    await this.lastUse.flush().catch(() => undefined);
    await this.leader.release();
  }
}

/** The upstream a cached repository came from, for metric labels (bounded: configured upstream names). */
function upstreamOf(config: Config, repo: string): string {
  const byPrefix = config.upstreams.find((u) => u.enabled && u.prefix !== undefined && repo.startsWith(u.prefix));
  return (byPrefix ?? config.upstreams.find((u) => u.enabled && u.default))?.name ?? 'none';
}
