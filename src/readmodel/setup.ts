import { join } from 'node:path';
import type { Logger } from 'pino';
import type { UiConfig } from '../config/ui-schema.js';
import { FsImageFactsStore } from '../metadata/fs-image-facts-store.js';
import type { MetadataIndex } from '../metadata/metadata-index.js';
import type { Clock } from '../oci/types.js';
import type { BlobStore } from '../storage/blob-store.js';
import { DownloadCounter } from './download-counter.js';
import { LayerFactsService, type ResultCounter } from './layer-facts.js';
import { ManifestReader } from './manifest-reader.js';
import { ReadModel, type UpstreamInfo } from './read-model.js';

export interface ReadModelSetup {
  ui: UiConfig;
  dataDir: string;
  tmpDir: string;
  index: MetadataIndex;
  blobs: BlobStore;
  upstreams: readonly UpstreamInfo[];
  maxManifestBytes: number;
  visibility(repo: string): 'public' | 'private';
  clock: Clock;
  logger: Logger;
  metrics?: { uiLayerAnalyses: ResultCounter; uiDownloadFlushes: ResultCounter };
}

export interface ReadModelParts {
  model: ReadModel;
  downloads: DownloadCounter;
  layers: LayerFactsService;
  close(): Promise<void>;
}

/** The read model and what feeds it: facts stored under <dataDir>/facts, background layer listing, batched download counts. */
export function createReadModel(s: ReadModelSetup): ReadModelParts {
  // Every label value exists from the start: the series set does not change while the registry runs.
  for (const result of ['listed', 'unlisted', 'failed']) s.metrics?.uiLayerAnalyses.inc({ result }, 0);
  for (const result of ['success', 'failure']) s.metrics?.uiDownloadFlushes.inc({ result }, 0);
  const facts = new FsImageFactsStore(join(s.dataDir, 'facts'), s.tmpDir);
  const layers = new LayerFactsService(s.blobs, facts, s.clock, s.logger, s.ui.analysisConcurrency, s.metrics?.uiLayerAnalyses);
  const downloads = new DownloadCounter(facts, s.logger, s.ui.downloadFlushSeconds * 1000, s.metrics?.uiDownloadFlushes);
  const reader = new ManifestReader(s.blobs, s.maxManifestBytes);
  const model = new ReadModel({ index: s.index, reader, facts, layers, downloads, upstreams: s.upstreams, visibility: s.visibility });
  return {
    model,
    downloads,
    layers,
    async close() {
      await layers.close();
      await downloads.close();
    },
  };
}
