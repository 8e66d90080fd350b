import type { Logger } from 'pino';
import type { Metrics } from '../metrics/metrics.js';
import type { BlobStore } from '../storage/blob-store.js';
import type { Layout } from '../storage/layout.js';
import type { ContentIntegrity } from './integrity.js';
import { Scrubber } from './scrub.js';
import { TempSweeper } from './temp-sweeper.js';

export interface StoreMaintenanceDeps {
  settings: { scrubBytesPerSecond: number; scrubIntervalSeconds: number };
  layout: Layout;
  blobs: BlobStore;
  integrity: ContentIntegrity;
  logger: Logger;
  metrics: Metrics;
}

const TEMP_SWEEP_MS = 10 * 60_000;

/** Issue 10's background work, started once per registry: temp-file sweeping and the blob scrub. */
export async function startStoreMaintenance(d: StoreMaintenanceDeps): Promise<{ scrubber?: Scrubber; close(): Promise<void> }> {
  const sweeper = new TempSweeper({ tmpDir: d.layout.tmpDir, logger: d.logger, metrics: d.metrics });
  await sweeper.start(TEMP_SWEEP_MS);
  let scrubber: Scrubber | undefined;
  if (d.settings.scrubBytesPerSecond > 0) {
    scrubber = new Scrubber({
      blobs: d.blobs,
      integrity: d.integrity,
      logger: d.logger,
      bytesPerSecond: d.settings.scrubBytesPerSecond,
      intervalMs: d.settings.scrubIntervalSeconds * 1000,
    });
    scrubber.start();
  }
  return {
    scrubber,
    async close() {
      sweeper.stop();
      await scrubber?.stop();
    },
  };
}
