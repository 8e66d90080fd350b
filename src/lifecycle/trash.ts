import { randomUUID } from 'node:crypto';
import { readFile, rm } from 'node:fs/promises';
import { join } from 'node:path';
import type { ManifestRecord, MetadataIndex } from '../metadata/metadata-index.js';
import { isDigest, type Digest } from '../oci/digest.js';
import { OciError } from '../oci/errors.js';
import type { Clock } from '../oci/types.js';
import { listDirOrEmpty, writeFileAtomic } from '../storage/atomic-file.js';
import type { BlobStore } from '../storage/blob-store.js';

/** A deleted tag, or a deleted manifest with the tags it had: enough to put it back. */
export interface TrashEntry {
  id: string;
  repo: string;
  deletedAt: number;
  digest: Digest;
  /** kind tag: the tag deleted; kind manifest: the tags that pointed at it. */
  tags: string[];
  kind: 'tag' | 'manifest';
  record?: ManifestRecord;
}

export interface RestoreResult {
  entry: TrashEntry;
  /** Tags pointing at the manifest again. */
  tags: string[];
  /** Tags left alone because they were pushed again since (they point elsewhere now). */
  skipped: string[];
}

/** Hooks for the process's hot caches, so a restore is visible at once where it runs. */
export interface CacheInvalidation {
  forgetTag(repo: string, tag: string): void;
  forgetRecord(repo: string, d: Digest): void;
}

/**
 * Deleted hosted manifests and tags, restorable for `days` (storage.trashDays). Each deletion writes its
 * entry (one small JSON file, temp → rename) BEFORE the index changes, so a crash leaves at worst an
 * entry for something not deleted, never a deletion without its entry. While an entry is in its window
 * the garbage collector counts its manifest as referenced, so the blobs stay; expire() ends that.
 */
export class TrashBin {
  constructor(
    private readonly dir: string,
    private readonly tmpDir: string,
    private readonly days: number,
    private readonly clock: Clock,
  ) {}

  get enabled(): boolean {
    return this.days > 0;
  }

  get windowMs(): number {
    return this.days * 86_400_000;
  }

  async put(entry: Omit<TrashEntry, 'id' | 'deletedAt'>): Promise<void> {
    if (!this.enabled) return;
    const deletedAt = this.clock.now();
    const id = `${String(deletedAt).padStart(15, '0')}-${randomUUID().slice(0, 8)}`;
    await writeFileAtomic(this.tmpDir, join(this.dir, `${id}.json`), JSON.stringify({ ...entry, id, deletedAt }));
  }

  /** Entries oldest first; `all` includes those past their window (not yet expired by GC). */
  async list(all = false): Promise<TrashEntry[]> {
    const out: TrashEntry[] = [];
    for (const name of (await listDirOrEmpty(this.dir)).sort()) {
      if (!name.endsWith('.json')) continue;
      try {
        const entry = JSON.parse(await readFile(join(this.dir, name), 'utf8')) as TrashEntry;
        if (all || this.inWindow(entry)) out.push(entry);
      } catch {
        // removed meanwhile, or torn by a crash before its rename (then it never existed)
      }
    }
    return out;
  }

  inWindow(entry: TrashEntry): boolean {
    return this.clock.now() - entry.deletedAt < this.windowMs;
  }

  async remove(entry: TrashEntry): Promise<void> {
    await rm(join(this.dir, `${entry.id}.json`), { force: true });
  }

  /** Removes entries past their window; their manifests stop counting as referenced. */
  async expire(dryRun = false): Promise<TrashEntry[]> {
    const expired = (await this.list(true)).filter((e) => !this.inWindow(e));
    if (!dryRun) for (const e of expired) await this.remove(e);
    return expired;
  }

  /**
   * Puts back the newest entry matching `repo:tag` or `repo@digest`: manifest record, referrer, tags.
   * Tags pushed again since are left alone (reported as skipped).
   */
  async restore(ref: string, index: MetadataIndex, blobs: BlobStore, caches?: CacheInvalidation): Promise<RestoreResult> {
    const { repo, tag, digest } = parseRef(ref);
    const entries = (await this.list()).reverse();
    const entry = entries.find((e) => e.repo === repo && (digest ? e.digest === digest : e.tags.includes(tag!)));
    if (!entry) throw new OciError('MANIFEST_UNKNOWN', `nothing restorable for ${ref} (the window is ${this.days} days)`);
    // A tag deleted on its own needs its manifest; restore that first if it was deleted too.
    if (!(await index.getManifest(repo, entry.digest))) {
      const record = entry.record ?? entries.find((e) => e.repo === repo && e.digest === entry.digest && e.record)?.record;
      if (!record) throw new OciError('MANIFEST_UNKNOWN', `manifest ${entry.digest} of ${repo} is gone and not in the trash`);
      if (!(await blobs.stat(record.digest))) throw new OciError('BLOB_UNKNOWN', `manifest bytes ${record.digest} are gone`);
      await index.addManifest(repo, record);
      if (record.subject) {
        await index.addReferrer(repo, record.subject, { mediaType: record.mediaType, digest: record.digest, size: record.size, ...(record.artifactType ? { artifactType: record.artifactType } : {}), ...(record.annotations ? { annotations: record.annotations } : {}) });
      }
      caches?.forgetRecord(repo, record.digest);
    }
    const tags: string[] = [];
    const skipped: string[] = [];
    const wanted = digest ? entry.tags : [tag!];
    for (const t of wanted) {
      const now = await index.resolveTag(repo, t);
      if (now && now !== entry.digest) {
        skipped.push(t);
        continue;
      }
      await index.setTag(repo, t, entry.digest);
      caches?.forgetTag(repo, t);
      tags.push(t);
    }
    await this.remove(entry);
    return { entry, tags, skipped };
  }
}

export function parseRef(ref: string): { repo: string; tag?: string; digest?: Digest } {
  const at = ref.indexOf('@');
  if (at > 0) {
    const digest = ref.slice(at + 1);
    if (!isDigest(digest)) throw new OciError('DIGEST_INVALID', `bad digest in ${ref}`);
    return { repo: ref.slice(0, at), digest };
  }
  const colon = ref.lastIndexOf(':');
  if (colon <= 0 || ref.slice(colon).includes('/')) throw new OciError('NAME_INVALID', `want <repo>:<tag> or <repo>@<digest>, got ${ref}`);
  return { repo: ref.slice(0, colon), tag: ref.slice(colon + 1) };
}
