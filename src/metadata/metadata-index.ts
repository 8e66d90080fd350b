import type { Digest } from '../oci/digest.js';
import type { Descriptor, Page } from '../oci/types.js';

export type ContentOrigin = 'hosted' | 'cached';

export interface ManifestRecord extends Descriptor {
  subject?: Digest;
  /** When pushed, or first cached (ms since epoch). */
  createdAt: number;
  origin: ContentOrigin;
}

/**
 * The one manifest/tag index for pushed and cached content. Disk is the truth;
 * tag updates are atomic and listings are lexically sorted for pagination.
 */
export interface MetadataIndex {
  resolveTag(repo: string, tag: string): Promise<Digest | undefined>;
  setTag(repo: string, tag: string, d: Digest): Promise<void>;
  deleteTag(repo: string, tag: string): Promise<boolean>;
  listTags(repo: string, page: Page): Promise<string[] | undefined>;
  /** Tags currently pointing at `d`. */
  tagsFor(repo: string, d: Digest): Promise<string[]>;
  listRepositories(page: Page): Promise<string[]>;
  repositoryExists(repo: string): Promise<boolean>;
  addManifest(repo: string, record: ManifestRecord): Promise<void>;
  getManifest(repo: string, d: Digest): Promise<ManifestRecord | undefined>;
  deleteManifest(repo: string, d: Digest): Promise<boolean>;
  linkBlob(repo: string, d: Digest, origin?: ContentOrigin): Promise<void>;
  hasBlob(repo: string, d: Digest): Promise<boolean>;
  unlinkBlob(repo: string, d: Digest): Promise<boolean>;
  addReferrer(repo: string, subject: Digest, descriptor: Descriptor): Promise<void>;
  removeReferrer(repo: string, subject: Digest, d: Digest): Promise<void>;
  referrers(repo: string, subject: Digest): Promise<Descriptor[]>;
  /** Lifecycle (GC, eviction): every manifest record of a repository, in no particular order. */
  listManifests(repo: string): Promise<ManifestRecord[]>;
  /** Lifecycle: every blob link of every repository (those holding links only included), with its origin. */
  listBlobLinks(): Promise<Array<{ repo: string; digest: Digest; origin: ContentOrigin }>>;
}

/** Applies `n`/`last` to an already sorted list. */
export function paginate(sorted: readonly string[], page: Page): string[] {
  let start = 0;
  if (page.last !== undefined) {
    const last = page.last;
    start = sorted.findIndex((v) => v > last);
    if (start < 0) return [];
  }
  const end = page.n === undefined ? sorted.length : start + page.n;
  return sorted.slice(start, end);
}
