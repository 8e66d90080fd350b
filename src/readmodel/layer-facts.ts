import PQueue from 'p-queue';
import type { Logger } from 'pino';
import type { ImageFactsStore, LayerFacts } from '../metadata/image-facts-store.js';
import type { Digest } from '../oci/digest.js';
import type { Clock } from '../oci/types.js';
import type { BlobStore } from '../storage/blob-store.js';
import { analyzeLayer } from './layer-analyzer.js';

/** A prom-client counter, structurally: readmodel/ needs no metrics import. */
export interface ResultCounter {
  inc(labels: { result: string }, value?: number): void;
}

export type LayerState = { state: 'ready'; facts: LayerFacts } | { state: 'pending' } | { state: 'missing' } | { state: 'failed'; reason: string };

/**
 * Computes each layer's facts once, in the background, a few at a time. Asking for a layer that has
 * none yet queues it (once, however many pages ask) and answers 'pending'; the page shows it later.
 */
export class LayerFactsService {
  private readonly queue: PQueue;
  private readonly inFlight = new Map<Digest, Promise<LayerFacts | undefined>>();
  private readonly failures = new Map<Digest, string>();

  constructor(
    private readonly blobs: BlobStore,
    private readonly store: ImageFactsStore,
    private readonly clock: Clock,
    private readonly logger: Logger,
    concurrency: number,
    private readonly analyses?: ResultCounter,
  ) {
    this.queue = new PQueue({ concurrency });
  }

  /** Stored facts, or queues their computation and answers without waiting. */
  async state(d: Digest, mediaType: string): Promise<LayerState> {
    const facts = await this.store.getLayer(d);
    if (facts) return { state: 'ready', facts };
    const failed = this.failures.get(d);
    if (failed !== undefined) return { state: 'failed', reason: failed };
    if (!this.inFlight.has(d) && !(await this.blobs.stat(d))) return { state: 'missing' };
    void this.compute(d, mediaType);
    return { state: 'pending' };
  }

  /** Computes (or joins the computation of) one layer's facts; undefined when the blob is not held. */
  compute(d: Digest, mediaType: string): Promise<LayerFacts | undefined> {
    const running = this.inFlight.get(d);
    if (running) return running;
    const job = this.queue
      .add(async (): Promise<LayerFacts | undefined> => {
        const stored = await this.store.getLayer(d);
        if (stored) return stored;
        if (!(await this.blobs.stat(d))) return undefined;
        const facts = await analyzeLayer(d, mediaType, () => this.blobs.open(d), this.store, () => this.clock.now());
        this.analyses?.inc({ result: facts.contents });
        return facts;
      }, { throwOnTimeout: true })
      .catch((err: unknown) => {
        this.logger.warn({ digest: d, err: (err as Error).message }, 'layer facts failed');
        this.failures.set(d, (err as Error).message);
        this.analyses?.inc({ result: 'failed' });
        return undefined;
      })
      .finally(() => this.inFlight.delete(d));
    this.inFlight.set(d, job);
    return job;
  }

  async idle(): Promise<void> {
    await this.queue.onIdle();
  }

  /** Drops queued work and waits for the layer being read, which still writes into the data folder. */
  async close(): Promise<void> {
    this.queue.clear();
    await this.queue.onIdle();
  }
}
