import { createHash } from 'node:crypto';
import { readFile, readdir } from 'node:fs/promises';
import { join, relative } from 'node:path';
import { listDigests, parseManifestRecord } from '../metadata/fs-metadata-index.js';
import type { MetadataIndex } from '../metadata/metadata-index.js';
import { digestParts, hashToDigest, isDigest, type Digest } from '../oci/digest.js';
import { isOciError } from '../oci/errors.js';
import { parseManifest } from '../oci/manifest.js';
import { isNotFound, listDirOrEmpty } from '../storage/atomic-file.js';
import type { BlobStore } from '../storage/blob-store.js';
import type { Layout } from '../storage/layout.js';
import { quarantineFile } from '../storage/quarantine.js';

export type ProblemKind =
  | 'corrupt-blob'
  | 'unreadable-record'
  | 'manifest-bytes-missing'
  | 'missing-blob'
  | 'missing-link'
  | 'missing-child-manifest'
  | 'bad-tag'
  | 'dangling-tag'
  | 'dangling-link';

export interface Problem {
  kind: ProblemKind;
  /** The file concerned, relative to the data folder. */
  file: string;
  detail: string;
  /** What --repair did about it; absent: reported only (nothing safe to do, or no --repair). */
  repaired?: 'quarantined' | 'relinked';
}

export interface FsckReport {
  checked: { blobs: number; manifests: number; tags: number; links: number };
  problems: Problem[];
}

export interface FsckDeps {
  layout: Layout;
  blobs: BlobStore;
  /** The filesystem index over the same folder (re-links go through it). */
  index: MetadataIndex;
  repair: boolean;
  /** Progress lines (one per problem as found). */
  onProblem?: (p: Problem) => void;
}

const RESERVED = new Set(['_tags', '_manifests', '_layers', '_referrers']);

/**
 * `registry-admin fsck [--repair]`: checks every blob (re-hashed), manifest record, tag and blob link
 * of the data folder and reports what is wrong. With --repair: corrupt blobs and unreadable records,
 * tags and links go to <dataDir>/quarantine/ (never deleted), and blobs a stored manifest references but
 * its repository lacks a link to are re-linked. Lost content (a manifest's bytes, a referenced blob) is
 * reported only: a mirror refetches it on the next pull, hosted content needs a push.
 */
export async function fsck(d: FsckDeps): Promise<FsckReport> {
  const report: FsckReport = { checked: { blobs: 0, manifests: 0, tags: 0, links: 0 }, problems: [] };
  const add = (p: Problem) => {
    report.problems.push(p);
    d.onProblem?.(p);
  };
  const rel = (path: string) => relative(d.layout.root, path);

  // 1. Blobs: every one re-hashed.
  if (d.blobs.list) {
    for await (const blob of d.blobs.list()) {
      report.checked.blobs++;
      const actual = await hashBlob(d.blobs, blob.digest);
      if (actual === undefined || actual === blob.digest) continue;
      const p: Problem = { kind: 'corrupt-blob', file: rel(d.layout.blob(blob.digest)), detail: `hashes to ${actual}` };
      if (d.repair && d.blobs.quarantine && (await d.blobs.quarantine(blob.digest))) p.repaired = 'quarantined';
      add(p);
    }
  }
  const present = async (digest: Digest) => (await d.blobs.stat(digest)) !== undefined;

  // 2. Per repository: manifest records, then tags (which point at records), then links.
  for (const repo of await repositories(d.layout.repositoriesDir, [])) {
    const records = new Set<string>();
    const recordFiles = await listDigests(d.layout.manifestsDir(repo));
    for (const digest of recordFiles) {
      report.checked.manifests++;
      const file = d.layout.manifest(repo, digest);
      const text = await readFile(file, 'utf8').catch((err: NodeJS.ErrnoException) => (isNotFound(err) ? undefined : `\0${err.code}`));
      if (text === undefined) continue;
      const record = text.startsWith('\0') ? undefined : parseManifestRecord(text, digest);
      if (!record) {
        const p: Problem = { kind: 'unreadable-record', file: rel(file), detail: text.startsWith('\0') ? `read error ${text.slice(1)}` : 'truncated or garbled' };
        if (d.repair && (await quarantineFile(d.layout, file))) p.repaired = 'quarantined';
        add(p);
        continue;
      }
      records.add(digest);
      if (!(await present(digest))) {
        add({ kind: 'manifest-bytes-missing', file: rel(file), detail: `${record.origin ?? 'hosted'} manifest ${digest} has no bytes in the store (${record.origin === 'cached' ? 'refetched on the next pull' : 'push it again'})` });
        continue;
      }
      let parsed;
      try {
        parsed = parseManifest(await readBlob(d.blobs, digest), record.mediaType);
      } catch {
        continue; // cached content as the upstream sent it: stricter push rules do not apply
      }
      for (const b of parsed.blobs) {
        if (!(await present(b.digest))) {
          add({ kind: 'missing-blob', file: rel(file), detail: `references ${b.digest}, absent from the store` });
        } else if (!(await d.index.hasBlob(repo, b.digest))) {
          const p: Problem = { kind: 'missing-link', file: rel(d.layout.blobLink(repo, b.digest)), detail: `${repo}@${digest} references ${b.digest}, not linked in ${repo}` };
          if (d.repair) {
            await d.index.linkBlob(repo, b.digest, record.origin ?? 'hosted');
            p.repaired = 'relinked';
          }
          add(p);
        }
      }
      for (const m of parsed.manifests) {
        if (!recordFiles.includes(m.digest)) {
          add({ kind: 'missing-child-manifest', file: rel(file), detail: `index references ${m.digest}, unknown in ${repo}` });
        }
      }
    }

    const tagsDir = d.layout.tagsDir(repo);
    for (const tag of await listDirOrEmpty(tagsDir)) {
      report.checked.tags++;
      const file = join(tagsDir, tag);
      const value = (await readFile(file, 'utf8').catch(() => '')).trim();
      const problem: Problem | undefined = !isDigest(value)
        ? { kind: 'bad-tag', file: rel(file), detail: 'does not hold a digest' }
        : !records.has(value)
          ? { kind: 'dangling-tag', file: rel(file), detail: `points at ${value}, which has no readable manifest record in ${repo}` }
          : undefined;
      if (!problem) continue;
      if (d.repair && (await quarantineFile(d.layout, file))) problem.repaired = 'quarantined';
      add(problem);
    }

    for (const digest of await listDigests(join(d.layout.repository(repo), '_layers'))) {
      report.checked.links++;
      if (await present(digest)) continue;
      const file = d.layout.blobLink(repo, digest);
      const p: Problem = { kind: 'dangling-link', file: rel(file), detail: `links ${digest}, absent from the store` };
      if (d.repair && (await quarantineFile(d.layout, file))) p.repaired = 'quarantined';
      add(p);
    }
  }
  return report;
}

async function hashBlob(blobs: BlobStore, d: Digest): Promise<Digest | undefined> {
  const { algorithm } = digestParts(d);
  const hash = createHash(algorithm);
  try {
    for await (const chunk of await blobs.open(d)) hash.update(chunk as Buffer);
  } catch (err) {
    if (isOciError(err, 'BLOB_UNKNOWN')) return undefined; // removed meanwhile
    throw err;
  }
  return hashToDigest(hash, algorithm);
}

async function readBlob(blobs: BlobStore, d: Digest): Promise<Buffer> {
  const chunks: Buffer[] = [];
  for await (const chunk of await blobs.open(d)) chunks.push(chunk as Buffer);
  return Buffer.concat(chunks);
}

/** Repository names: folders under repositories/ holding any of the index's reserved folders. */
async function repositories(dir: string, parts: string[]): Promise<string[]> {
  let entries;
  try {
    entries = await readdir(dir, { withFileTypes: true });
  } catch (err) {
    if (isNotFound(err)) return [];
    throw err;
  }
  const names = entries.filter((e) => e.isDirectory()).map((e) => e.name);
  const found = parts.length > 0 && names.some((n) => RESERVED.has(n)) ? [parts.join('/')] : [];
  for (const name of names) if (!RESERVED.has(name)) found.push(...(await repositories(join(dir, name), [...parts, name])));
  return found;
}
