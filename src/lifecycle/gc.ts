import { readFile, rm } from 'node:fs/promises';
import { join } from 'node:path';
import type { Logger } from 'pino';
import type { MetadataIndex } from '../metadata/metadata-index.js';
import type { Digest } from '../oci/digest.js';
import type { Clock } from '../oci/types.js';
import { writeFileAtomic } from '../storage/atomic-file.js';
import type { BlobStore } from '../storage/blob-store.js';
import { forEachLimited, pacer } from './limited.js';
import type { LiveBlobs } from './live-blobs.js';
import { BlobRetention } from './retention.js';
import { scanStore, type ManifestReferences } from './store-graph.js';
import type { TrashBin } from './trash.js';

export interface GcDeps {
  index: MetadataIndex;
  blobs: BlobStore;
  uploads?: { purgeStale?(maxAgeMs: number): Promise<number> };
  trash: TrashBin;
  live: LiveBlobs;
  refs: ManifestReferences;
  clock: Clock;
  logger: Logger;
  /** <dataDir>/lifecycle: where the sweep journal lives. */
  stateDir: string;
  tmpDir: string;
}

export interface GcReport {
  dryRun: boolean;
  /** Blobs (and bytes) reclaimed, or that would be with dryRun. */
  blobs: number;
  bytes: number;
  /** Links removed because their blob is gone. */
  links: number;
  uploads: number;
  trashExpired: number;
  /** Unreferenced blobs kept by the rule, by reason. */
  kept: Record<'grace' | 'in-flight' | 'touched', number>;
  durationMs: number;
  reclaimed: Array<{ digest: Digest; size: number }>;
}

/** File operations in flight at once during a sweep. */
const PARALLEL = 16;

interface Journal {
  cutoff: number;
  /** digest → repositories linking it, whose links go once the blob is gone */
  links: Record<string, string[]>;
}

/**
 * Online mark-and-sweep. Mark: every manifest record (hosted and cached, all repositories) and every
 * trash entry still in its window, with what those manifests reference, is live. Sweep: every other
 * blob goes if BlobRetention allows it (old enough, not held in this process since the sweep began),
 * through deleteIfUntouched (a manifest PUT in another process touches what it references, and that
 * touch wins). A blob goes before its links; the journal lets a restart finish removing the links of
 * blobs deleted before a crash, so no link outlives its blob. Abandoned uploads and expired trash go too.
 */
export class GarbageCollector {
  constructor(
    private readonly deps: GcDeps,
    private readonly settings: { graceMs: number; uploadExpiryMs: number; deletesPerSecond?: number },
  ) {}

  private get journalPath(): string {
    return join(this.deps.stateDir, 'gc-journal.json');
  }

  async run(options: { dryRun?: boolean } = {}): Promise<GcReport> {
    const dryRun = options.dryRun ?? false;
    const { blobs, index, live, trash, clock } = this.deps;
    const started = clock.now();
    const t0 = performance.now();
    const report: GcReport = { dryRun, blobs: 0, bytes: 0, links: 0, uploads: 0, trashExpired: 0, kept: { grace: 0, 'in-flight': 0, touched: 0 }, durationMs: 0, reclaimed: [] };
    if (!blobs.list) {
      this.deps.logger.warn('garbage collection skipped: the blob store cannot list its blobs');
      return report;
    }
    const generation = live.beginSweep();
    try {
      // Expired first: their manifests stop protecting blobs in this very run.
      report.trashExpired = (await trash.expire(dryRun)).length;
      const snapshot = await scanStore(index, blobs);
      const roots: Digest[] = [];
      for (const repo of snapshot.repos) for (const m of repo.manifests) roots.push(m.digest);
      for (const e of await trash.list()) roots.push(e.digest);
      const rule = await BlobRetention.build({ roots, refs: this.deps.refs, live, generation, notAfter: started - this.settings.graceMs });
      const linksOf = new Map<Digest, string[]>();
      for (const repo of snapshot.repos) {
        for (const link of repo.links) {
          const list = linksOf.get(link.digest);
          if (list) list.push(repo.name);
          else linksOf.set(link.digest, [repo.name]);
        }
      }
      const candidates = [];
      for (const blob of snapshot.blobs.values()) {
        const verdict = rule.verdict(blob);
        if (verdict === 'unreferenced') candidates.push(blob);
        else if (verdict === 'grace' || verdict === 'in-flight') report.kept[verdict]++;
      }
      if (dryRun) {
        report.blobs = candidates.length;
        report.bytes = candidates.reduce((n, b) => n + b.size, 0);
        report.reclaimed = candidates.map((b) => ({ digest: b.digest, size: b.size }));
        report.uploads = 0;
        return report;
      }
      const journal: Journal = { cutoff: rule.notAfter, links: {} };
      for (const b of candidates) journal.links[b.digest] = linksOf.get(b.digest) ?? [];
      // Links whose blob is already gone (a crash, or an older version without the journal).
      for (const [d, repos] of linksOf) if (!snapshot.blobs.has(d)) journal.links[d] = repos;
      await writeFileAtomic(this.deps.tmpDir, this.journalPath, JSON.stringify(journal));
      const pace = pacer(this.settings.deletesPerSecond ?? 0);
      await forEachLimited(candidates, PARALLEL, async (b) => {
        await pace();
        const result = await live.deleteUnlessHeld(b.digest, generation, () => (blobs.deleteIfUntouched ? blobs.deleteIfUntouched(b.digest, rule.notAfter) : blobs.delete(b.digest).then(() => 'deleted' as const)));
        if (result === 'deleted') {
          report.blobs++;
          report.bytes += b.size;
          report.reclaimed.push({ digest: b.digest, size: b.size });
        } else if (result === 'held') report.kept['in-flight']++;
        else if (result === 'kept') report.kept.touched++;
      });
      report.links = await this.removeLinksOfMissing(journal);
      await rm(this.journalPath, { force: true });
      if (this.deps.uploads?.purgeStale) report.uploads = await this.deps.uploads.purgeStale(this.settings.uploadExpiryMs);
      return report;
    } finally {
      live.endSweep(generation);
      report.durationMs = performance.now() - t0;
    }
  }

  /** After a crash: finishes the link removals a journal left behind. */
  async recover(): Promise<number> {
    let text: string;
    try {
      text = await readFile(this.journalPath, 'utf8');
    } catch {
      return 0;
    }
    let removed = 0;
    try {
      removed = await this.removeLinksOfMissing(JSON.parse(text) as Journal);
    } catch (err) {
      this.deps.logger.warn({ err: (err as Error).message }, 'unreadable GC journal ignored');
    }
    await rm(this.journalPath, { force: true });
    return removed;
  }

  /** Only links whose blob is missing now: a blob pushed again since keeps its (new) links. */
  private async removeLinksOfMissing(journal: Journal): Promise<number> {
    let removed = 0;
    await forEachLimited(Object.entries(journal.links), PARALLEL, async ([d, repos]) => {
      if (repos.length === 0 || (await this.deps.blobs.stat(d as Digest))) return;
      for (const repo of repos) if (await this.deps.index.unlinkBlob(repo, d as Digest)) removed++;
    });
    return removed;
  }
}
