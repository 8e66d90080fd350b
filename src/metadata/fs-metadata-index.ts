import { readFile, readdir, rm, stat } from 'node:fs/promises';
import { join } from 'node:path';
import { isDigest, type Digest } from '../oci/digest.js';
import type { Descriptor, Page } from '../oci/types.js';
import { isNotFound, listDirOrEmpty, writeFileAtomic } from '../storage/atomic-file.js';
import type { Layout } from '../storage/layout.js';
import { paginate, type ContentOrigin, type ManifestRecord, type MetadataIndex } from './metadata-index.js';

const RESERVED = new Set(['_tags', '_manifests', '_layers', '_referrers']);

/** MetadataIndex as small files under the data folder, each written temp → fsync → rename. */
export class FsMetadataIndex implements MetadataIndex {
  constructor(private readonly layout: Layout) {}

  async resolveTag(repo: string, tag: string): Promise<Digest | undefined> {
    const text = await readOptional(this.layout.tag(repo, tag));
    const value = text?.trim();
    return value && isDigest(value) ? value : undefined;
  }

  async setTag(repo: string, tag: string, d: Digest): Promise<void> {
    await writeFileAtomic(this.layout.tmpDir, this.layout.tag(repo, tag), d);
  }

  async deleteTag(repo: string, tag: string): Promise<boolean> {
    return removeFile(this.layout.tag(repo, tag));
  }

  async listTags(repo: string, page: Page): Promise<string[] | undefined> {
    if (!(await this.repositoryExists(repo))) return undefined;
    const tags = await listDirOrEmpty(this.layout.tagsDir(repo));
    return paginate(tags.sort(), page);
  }

  async tagsFor(repo: string, d: Digest): Promise<string[]> {
    const tags = await listDirOrEmpty(this.layout.tagsDir(repo));
    const matches: string[] = [];
    for (const tag of tags) if ((await this.resolveTag(repo, tag)) === d) matches.push(tag);
    return matches;
  }

  async listRepositories(page: Page): Promise<string[]> {
    const found: string[] = [];
    await this.walkRepositories(this.layout.repositoriesDir, [], found);
    return paginate(found.sort(), page);
  }

  async repositoryExists(repo: string): Promise<boolean> {
    const entries = await listDirOrEmpty(this.layout.repository(repo));
    return entries.includes('_manifests') || entries.includes('_tags');
  }

  async addManifest(repo: string, record: ManifestRecord): Promise<void> {
    const existing = await this.getManifest(repo, record.digest);
    // Keep the first-seen time: it is the "pushed at" the details page will show.
    const stored = existing ? { ...record, createdAt: existing.createdAt } : record;
    await writeFileAtomic(this.layout.tmpDir, this.layout.manifest(repo, record.digest), JSON.stringify(stored));
  }

  async getManifest(repo: string, d: Digest): Promise<ManifestRecord | undefined> {
    const text = await readOptional(this.layout.manifest(repo, d));
    return text ? (JSON.parse(text) as ManifestRecord) : undefined;
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
    for (const name of names) {
      if (!RESERVED.has(name)) await this.walkRepositories(join(dir, name), [...parts, name], found);
    }
  }
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
