import { readFile, readdir, rm, stat } from 'node:fs/promises';
import { join } from 'node:path';
import { isDigest, type Digest } from '../oci/digest.js';
import type { Descriptor, Page } from '../oci/types.js';
import { isNotFound, listDirOrEmpty, writeFileAtomic } from '../storage/atomic-file.js';
import type { Layout } from '../storage/layout.js';
import { quarantineFile } from '../storage/quarantine.js';
import { RepositoryCatalog, upperBound } from './fs-catalog.js';
import { TagCache } from './fs-tag-cache.js';
import { type ContentOrigin, type ManifestRecord, type MetadataIndex } from './metadata-index.js';

const RESERVED = new Set(['_tags', '_manifests', '_layers', '_referrers']);

/**
 * MetadataIndex as small files under the data folder, each written temp → fsync → rename. Listings
 * do not walk the tree per request: the catalog is a sorted, appended log (fs-catalog.ts) and tag
 * names are cached per repository behind a folder-mtime check (fs-tag-cache.ts), both correct
 * when several processes write the same folder.
 */
export class FsMetadataIndex implements MetadataIndex {
  private readonly catalog: RepositoryCatalog;
  private readonly tags = new TagCache();

  /**
   * @param onCorruptRecord told about a manifest record that cannot be read back (truncated, garbled),
   *   after the record was moved to quarantine; the index then answers as if it were absent.
   */
  constructor(
    private readonly layout: Layout,
    private readonly onCorruptRecord?: (file: string, reason: string, movedTo: string | undefined) => void,
  ) {
    this.catalog = new RepositoryCatalog({
      logPath: layout.catalogLog,
      tmpDir: layout.tmpDir,
      walk: async () => {
        const found: string[] = [];
        await this.walkRepositories(layout.repositoriesDir, [], found);
        return found;
      },
    });
  }

  async resolveTag(repo: string, tag: string): Promise<Digest | undefined> {
    const text = await readOptional(this.layout.tag(repo, tag));
    const value = text?.trim();
    return value && isDigest(value) ? value : undefined;
  }

  async setTag(repo: string, tag: string, d: Digest): Promise<void> {
    await this.catalog.add(repo);
    try {
      await writeFileAtomic(this.layout.tmpDir, this.layout.tag(repo, tag), d);
    } finally {
      this.tags.forget(this.layout.tagsDir(repo));
    }
  }

  async deleteTag(repo: string, tag: string): Promise<boolean> {
    try {
      return await removeFile(this.layout.tag(repo, tag));
    } finally {
      this.tags.forget(this.layout.tagsDir(repo));
    }
  }

  async listTags(repo: string, page: Page): Promise<string[] | undefined> {
    if (!(await this.repositoryExists(repo))) return undefined;
    const sorted = await this.tags.names(this.layout.tagsDir(repo));
    return pageOf(sorted, page);
  }

  async tagsFor(repo: string, d: Digest): Promise<string[]> {
    const matches: string[] = [];
    for (const [tag, digest] of await this.tags.values(this.layout.tagsDir(repo))) if (digest === d) matches.push(tag);
    return matches;
  }

  async listRepositories(page: Page): Promise<string[]> {
    return this.catalog.page(page);
  }

  async repositoryExists(repo: string): Promise<boolean> {
    const entries = await listDirOrEmpty(this.layout.repository(repo));
    return entries.includes('_manifests') || entries.includes('_tags');
  }

  async addManifest(repo: string, record: ManifestRecord): Promise<void> {
    await this.catalog.add(repo);
    const existing = await this.getManifest(repo, record.digest);
    // Keep the first-seen time: it is the "pushed at" the details page will show.
    const stored = existing ? { ...record, createdAt: existing.createdAt } : record;
    await writeFileAtomic(this.layout.tmpDir, this.layout.manifest(repo, record.digest), JSON.stringify(stored));
  }

  async getManifest(repo: string, d: Digest): Promise<ManifestRecord | undefined> {
    const path = this.layout.manifest(repo, d);
    let text: string | undefined;
    let reason: string;
    try {
      text = await readOptional(path);
      if (text === undefined) return undefined;
      const record = parseManifestRecord(text, d);
      if (record) return record;
      reason = text.length === 0 ? 'empty file' : 'not a manifest record of this digest (truncated or garbled)';
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'EIO') throw err;
      reason = 'read error EIO';
    }
    // Corrupt: a 404 (hosted) or a refetch (cached) is the answer, never a 500 on every read; the file
    // goes to quarantine so the next push or fill writes a good one, and an operator can inspect it.
    const movedTo = await quarantineFile(this.layout, path).catch(() => undefined);
    this.onCorruptRecord?.(path, reason, movedTo);
    return undefined;
  }

  async deleteManifest(repo: string, d: Digest): Promise<boolean> {
    return removeFile(this.layout.manifest(repo, d));
  }

  async linkBlob(repo: string, d: Digest, origin: ContentOrigin = 'hosted'): Promise<void> {
    const path = this.layout.blobLink(repo, d);
    if ((await readOptional(path)) !== undefined) return;
    await writeFileAtomic(this.layout.tmpDir, path, JSON.stringify({ origin }));
  }

  async hasBlob(repo: string, d: Digest): Promise<boolean> {
    try {
      await stat(this.layout.blobLink(repo, d));
      return true;
    } catch (err) {
      if (isNotFound(err)) return false;
      throw err;
    }
  }

  async unlinkBlob(repo: string, d: Digest): Promise<boolean> {
    return removeFile(this.layout.blobLink(repo, d));
  }

  async addReferrer(repo: string, subject: Digest, descriptor: Descriptor): Promise<void> {
    await writeFileAtomic(this.layout.tmpDir, this.layout.referrer(repo, subject, descriptor.digest), JSON.stringify(descriptor));
  }

  async removeReferrer(repo: string, subject: Digest, d: Digest): Promise<void> {
    await removeFile(this.layout.referrer(repo, subject, d));
  }

  async referrers(repo: string, subject: Digest): Promise<Descriptor[]> {
    const dir = this.layout.referrersDir(repo, subject);
    const names = (await listDirOrEmpty(dir)).sort();
    const out: Descriptor[] = [];
    for (const name of names) {
      const text = await readOptional(join(dir, name));
      if (text) out.push(JSON.parse(text) as Descriptor);
    }
    return out;
  }

  async listManifests(repo: string): Promise<ManifestRecord[]> {
    const out: ManifestRecord[] = [];
    for (const digest of await listDigests(this.layout.manifestsDir(repo))) {
      const record = await this.getManifest(repo, digest).catch(() => undefined); // removed or torn mid-listing
      if (record) out.push(record);
    }
    return out;
  }

  async listBlobLinks(): Promise<Array<{ repo: string; digest: Digest; origin: ContentOrigin }>> {
    const out: Array<{ repo: string; digest: Digest; origin: ContentOrigin }> = [];
    const walk = async (dir: string, parts: string[]): Promise<void> => {
      for (const name of await listDirOrEmpty(dir)) {
        if (name === '_layers') {
          const repo = parts.join('/');
          const digests = await listDigests(join(dir, name));
          // Batches of reads in parallel: a GC mark reads every link of the store.
          for (let i = 0; i < digests.length; i += 64) {
            const texts = await Promise.all(digests.slice(i, i + 64).map((d) => readOptional(this.layout.blobLink(repo, d))));
            texts.forEach((text, j) => text !== undefined && out.push({ repo, digest: digests[i + j]!, origin: linkOrigin(text) }));
          }
        } else if (!RESERVED.has(name)) await walk(join(dir, name), [...parts, name]);
      }
    };
    await walk(this.layout.repositoriesDir, []);
    return out;
  }

  private async walkRepositories(dir: string, parts: string[], found: string[]): Promise<void> {
    let entries;
    try {
      entries = await readdir(dir, { withFileTypes: true });
    } catch (err) {
      if (isNotFound(err)) return;
      throw err;
    }
    const names = entries.filter((e) => e.isDirectory()).map((e) => e.name);
    if (parts.length > 0 && (names.includes('_manifests') || names.includes('_tags'))) found.push(parts.join('/'));
    // Siblings in parallel: libuv's thread pool bounds the open folders, and a rebuild of a large
    // catalog (only when its log is missing) is bound by readdir latency, not CPU.
    await Promise.all(names.filter((name) => !RESERVED.has(name)).map((name) => this.walkRepositories(join(dir, name), [...parts, name], found)));
  }
}

/** Links written before origins were recorded hold no JSON: they were pushed, so hosted. */
function linkOrigin(text: string): ContentOrigin {
  try {
    return (JSON.parse(text) as { origin?: unknown }).origin === 'cached' ? 'cached' : 'hosted';
  } catch {
    return 'hosted';
  }
}

/** Digests stored as <dir>/<alg>/<hex>. */
export async function listDigests(dir: string): Promise<Digest[]> {
  const out: Digest[] = [];
  for (const alg of await listDirOrEmpty(dir)) {
    for (const hex of await listDirOrEmpty(join(dir, alg))) {
      const d = `${alg}:${hex}`;
      if (isDigest(d)) out.push(d);
    }
  }
  return out;
}

/** A record as written by addManifest, or undefined when the text is not one for `d`. */
export function parseManifestRecord(text: string, d: Digest): ManifestRecord | undefined {
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch {
    return undefined;
  }
  const r = value as Partial<ManifestRecord> | null;
  if (typeof r !== 'object' || r === null || r.digest !== d || typeof r.mediaType !== 'string') return undefined;
  if (typeof r.size !== 'number' || !Number.isSafeInteger(r.size) || r.size < 0) return undefined;
  return r as ManifestRecord;
}

/** `n` names after `last` from a sorted list: a binary search and a slice. */
function pageOf(sorted: readonly string[], page: Page): string[] {
  const start = page.last === undefined ? 0 : upperBound(sorted, page.last);
  return sorted.slice(start, page.n === undefined ? sorted.length : start + page.n);
}

async function readOptional(path: string): Promise<string | undefined> {
  try {
    return await readFile(path, 'utf8');
  } catch (err) {
    if (isNotFound(err)) return undefined;
    throw err;
  }
}


async function removeFile(path: string): Promise<boolean> {
  try {
    await rm(path);
    return true;
  } catch (err) {
    if (isNotFound(err)) return false;
    throw err;
  }
}
