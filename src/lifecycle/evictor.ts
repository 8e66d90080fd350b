import type { Logger } from 'pino';
import type { ManifestRecord, MetadataIndex } from '../metadata/metadata-index.js';
import type { Digest } from '../oci/digest.js';
import type { Clock } from '../oci/types.js';
import type { BlobStore } from '../storage/blob-store.js';
import type { LastUseLog } from './last-use.js';
import type { LiveBlobs } from './live-blobs.js';
import { forEachLimited, pacer } from './limited.js';
import { BlobRetention } from './retention.js';
import { closure, scanStore, type ManifestReferences, type RepoContent, type StoreSnapshot } from './store-graph.js';
import type { CacheInvalidation, TrashBin } from './trash.js';

export interface EvictionDeps {
  index: MetadataIndex;
  blobs: BlobStore;
  live: LiveBlobs;
  refs: ManifestReferences;
  lastUse: LastUseLog;
  trash: TrashBin;
  clock: Clock;
  logger: Logger;
  caches?: CacheInvalidation;
}

export interface EvictionSettings {
  maxBytes?: number;
  highWatermark: number;
  lowWatermark: number;
  maxIdleMs?: number;
  /** Pace of blob deletions (storage.gc.deletesPerSecond); 0: as fast as it goes. */
  deletesPerSecond?: number;
}

export interface EvictionReport {
  /** Cached images (and stray cached blob links) removed. */
  images: number;
  blobs: number;
  bytes: number;
  /** Bytes of cached-only content before and after. */
  cachedBefore: number;
  cachedAfter: number;
  hostedBytes: number;
  /** Hosted content alone is over the cap: nothing hosted is ever evicted. */
  hostedOverCap: boolean;
  durationMs: number;
  /** Blobs removed, by repository (for per-upstream metrics). */
  removed: Array<{ repo: string; digest: Digest; size: number }>;
}

/** What eviction removes as one: a cached manifest with its index children in the same repository, or a stray cached link. */
interface Unit {
  repo: RepoContent;
  manifests: ManifestRecord[];
  digests: Set<Digest>;
  lastUse: number;
}

/**
 * Least-recently-used eviction of cached (mirrored) images. Over the high watermark (or when images sit
 * idle past maxIdleDays) it removes whole images, oldest last use first, until usage is under the low
 * one. Order per image, so a crash at any point leaves nothing dangling: tags, then manifest records,
 * then blob links, then blobs (a blob is deleted only once nothing points at it; a leftover link or
 * blob is a stray that the next run or the GC removes). Hosted content is never a candidate, and a
 * blob a hosted manifest or link also holds is never deleted.
 */
export class CacheEvictor {
  constructor(
    private readonly deps: EvictionDeps,
    private readonly settings: EvictionSettings,
  ) {}

  async run(): Promise<EvictionReport> {
    const t0 = performance.now();
    const report = await this.sweep();
    report.durationMs = performance.now() - t0;
    return report;
  }

  private async sweep(): Promise<EvictionReport> {
    const { live, clock, blobs } = this.deps;
    const started = clock.now();
    const generation = live.beginSweep();
    try {
      const snapshot = await scanStore(this.deps.index, blobs);
      const trashRoots = (await this.deps.trash.list()).map((e) => e.digest);
      const hostedRecords = snapshot.repos.flatMap((r) => r.manifests.filter((m) => m.origin !== 'cached').map((m) => m.digest));
      const hostedLinks = snapshot.repos.flatMap((r) => r.links.filter((l) => l.origin !== 'cached').map((l) => l.digest));
      const hosted = await closure([...hostedRecords, ...trashRoots], this.deps.refs);
      for (const d of hostedLinks) hosted.add(d);
      const units = await this.units(snapshot);
      const refcount = new Map<Digest, number>();
      for (const u of units) for (const d of u.digests) refcount.set(d, (refcount.get(d) ?? 0) + 1);
      const sizeOf = (d: Digest) => snapshot.blobs.get(d)?.size ?? 0;
      let cached = 0;
      for (const d of refcount.keys()) if (!hosted.has(d)) cached += sizeOf(d);
      let hostedBytes = 0;
      for (const d of hosted) hostedBytes += sizeOf(d);
      const report: EvictionReport = { images: 0, blobs: 0, bytes: 0, cachedBefore: cached, cachedAfter: cached, hostedBytes, hostedOverCap: false, durationMs: 0, removed: [] };

      const { maxBytes, maxIdleMs } = this.settings;
      report.hostedOverCap = maxBytes !== undefined && hostedBytes > maxBytes;
      const inFlight = live.inFlightBytes();
      const over = maxBytes !== undefined && cached + inFlight > maxBytes * this.settings.highWatermark;
      const target = maxBytes === undefined ? Infinity : maxBytes * this.settings.lowWatermark;
      const idleBefore = maxIdleMs === undefined ? -Infinity : started - maxIdleMs;
      const chosen: Unit[] = [];
      let projected = cached + inFlight;
      for (const u of units.sort((a, b) => a.lastUse - b.lastUse)) {
        const idle = u.lastUse < idleBefore;
        if (!idle && !(over && projected > target)) continue;
        if ([...u.digests].some((d) => live.isHeld(d))) continue; // being filled or served: its readers finish
        chosen.push(u);
        for (const d of u.digests) {
          const left = (refcount.get(d) ?? 1) - 1;
          refcount.set(d, left);
          if (left === 0 && !hosted.has(d)) projected -= sizeOf(d);
        }
      }
      if (chosen.length === 0) return report;

      // The rule sees every record and link that stays: hosted ones, trash, and cached images not chosen.
      const goingRecords = new Set(chosen.flatMap((u) => u.manifests.map((m) => `${u.repo.name}@${m.digest}`)));
      const roots = [...trashRoots];
      for (const r of snapshot.repos) for (const m of r.manifests) if (!goingRecords.has(`${r.name}@${m.digest}`)) roots.push(m.digest);
      const keptLinks: Digest[] = [];
      const goingLinks = new Set(chosen.flatMap((u) => [...u.digests].map((d) => `${u.repo.name}@${d}`)));
      for (const r of snapshot.repos) for (const l of r.links) if (l.origin !== 'cached' || !goingLinks.has(`${r.name}@${l.digest}`)) keptLinks.push(l.digest);
      const rule = await BlobRetention.build({ roots, refs: this.deps.refs, live, generation, notAfter: started, extra: keptLinks });

      // Images are independent: each one's removal keeps its own crash-safe order, several run at once.
      // A blob shared by several chosen images goes once the last of them has dropped its records and links.
      const pending = new Map<Digest, number>();
      for (const u of chosen) for (const d of u.digests) pending.set(d, (pending.get(d) ?? 0) + 1);
      const pace = pacer(this.settings.deletesPerSecond ?? 0);
      await forEachLimited(chosen, 16, async (u) => {
        await this.removeUnit(u, rule, snapshot, report, pending, pace);
        report.images++;
      });
      report.cachedAfter = cached - report.bytes;
      return report;
    } finally {
      live.endSweep(generation);
    }
  }

  private async removeUnit(u: Unit, rule: BlobRetention, snapshot: StoreSnapshot, report: EvictionReport, pending: Map<Digest, number>, pace: () => Promise<void>): Promise<void> {
    const { index, caches, lastUse, blobs, live } = this.deps;
    const repo = u.repo.name;
    const mine = new Set(u.manifests.map((m) => m.digest));
    // 1. Tags (still pointing where the snapshot saw them).
    for (const [tag, d] of u.repo.tags) {
      if (!mine.has(d) || (await index.resolveTag(repo, tag)) !== d) continue;
      await index.deleteTag(repo, tag);
      caches?.forgetTag(repo, tag);
    }
    // 2. Manifest records; then any tag a concurrent pull set meanwhile.
    for (const m of u.manifests) {
      if (m.subject) await index.removeReferrer(repo, m.subject, m.digest);
      await index.deleteManifest(repo, m.digest);
      caches?.forgetRecord(repo, m.digest);
      lastUse.forget(repo, m.digest);
      for (const tag of await index.tagsFor(repo, m.digest)) {
        await index.deleteTag(repo, tag);
        caches?.forgetTag(repo, tag);
      }
    }
    // 3. Cached links this image brought, unless another record of the repository still needs them.
    const cachedLinks = new Set(u.repo.links.filter((l) => l.origin === 'cached').map((l) => l.digest));
    for (const d of u.digests) {
      if (!cachedLinks.has(d) || rule.isReferenced(d)) continue;
      await index.unlinkBlob(repo, d);
      lastUse.forget(repo, d);
    }
    // 4. Blobs nothing points at any more (nor any chosen image still being removed).
    for (const d of u.digests) {
      const left = (pending.get(d) ?? 1) - 1;
      pending.set(d, left);
      const stored = snapshot.blobs.get(d);
      if (left > 0 || !stored || rule.verdict(stored) !== 'unreferenced') continue;
      await pace();
      const result = await live.deleteUnlessHeld(d, rule.generation, () =>
        blobs.deleteIfUntouched ? blobs.deleteIfUntouched(d, rule.notAfter) : blobs.delete(d).then(() => 'deleted' as const),
      );
      if (result !== 'deleted') continue;
      snapshot.blobs.delete(d);
      report.blobs++;
      report.bytes += stored.size;
      report.removed.push({ repo, digest: d, size: stored.size });
    }
  }

  /** Cached images per repository (an index and its children together), plus stray cached links. */
  private async units(snapshot: StoreSnapshot): Promise<Unit[]> {
    const out: Unit[] = [];
    for (const repo of snapshot.repos) {
      const cachedRecords = repo.manifests.filter((m) => m.origin === 'cached');
      if (cachedRecords.length === 0 && !repo.links.some((l) => l.origin === 'cached')) continue;
      const byDigest = new Map(cachedRecords.map((m) => [m.digest, m]));
      // Union-find over "index → child manifest in this repository".
      const parent = new Map<Digest, Digest>();
      const find = (d: Digest): Digest => {
        let p = parent.get(d) ?? d;
        while (p !== (parent.get(p) ?? p)) p = parent.get(p)!;
        return p;
      };
      const refsOf = new Map<Digest, readonly Digest[]>();
      for (const m of cachedRecords) {
        const refs = await this.deps.refs.of(m.digest);
        refsOf.set(m.digest, refs);
        for (const r of refs) if (byDigest.has(r)) parent.set(find(r), find(m.digest));
      }
      const groups = new Map<Digest, Unit>();
      for (const m of cachedRecords) {
        const root = find(m.digest);
        let u = groups.get(root);
        if (!u) groups.set(root, (u = { repo, manifests: [], digests: new Set(), lastUse: 0 }));
        u.manifests.push(m);
        u.digests.add(m.digest);
        for (const r of refsOf.get(m.digest) ?? []) u.digests.add(r);
        u.lastUse = Math.max(u.lastUse, m.createdAt, this.deps.lastUse.get(repo.name, m.digest) ?? 0);
      }
      // A blob pulled on its own (by digest) counts as a use of the images holding it.
      for (const u of groups.values()) for (const d of u.digests) u.lastUse = Math.max(u.lastUse, this.deps.lastUse.get(repo.name, d) ?? 0);
      const covered = new Set<Digest>();
      for (const u of groups.values()) {
        for (const d of u.digests) covered.add(d);
        out.push(u);
      }
      for (const l of repo.links) {
        if (l.origin !== 'cached' || covered.has(l.digest)) continue;
        const used = this.deps.lastUse.get(repo.name, l.digest) ?? snapshot.blobs.get(l.digest)?.modifiedAt ?? 0;
        out.push({ repo, manifests: [], digests: new Set([l.digest]), lastUse: used });
      }
    }
    return out;
  }
}
