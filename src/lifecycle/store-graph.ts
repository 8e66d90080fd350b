import { buffer } from 'node:stream/consumers';
import { LRUCache } from 'lru-cache';
import type { ContentOrigin, ManifestRecord, MetadataIndex } from '../metadata/metadata-index.js';
import { isDigest, type Digest } from '../oci/digest.js';
import type { BlobStore, StoredBlob } from '../storage/blob-store.js';
import { forEachLimited } from './limited.js';

export interface RepoContent {
  name: string;
  manifests: ManifestRecord[];
  /** tag → digest */
  tags: Map<string, Digest>;
  links: Array<{ digest: Digest; origin: ContentOrigin }>;
}

/** One consistent-enough picture of the store: index first, then blobs (so a blob newer than its record is seen). */
export interface StoreSnapshot {
  repos: RepoContent[];
  blobs: Map<Digest, StoredBlob>;
}

/**
 * What a manifest points at: config, layers, an artifact's blobs, an index's children. Read leniently
 * (cached manifests are served as the upstream sent them); `subject` is not a reference (a referrer
 * does not keep its subject alive). Content-addressed, so results are kept across sweeps.
 */
export class ManifestReferences {
  // maxSize rather than max: lru-cache preallocates `max` slots at construction.
  private readonly known = new LRUCache<Digest, readonly Digest[]>({ maxSize: 200_000, sizeCalculation: () => 1 });

  constructor(private readonly blobs: BlobStore) {}

  async of(d: Digest): Promise<readonly Digest[]> {
    const hit = this.known.get(d);
    if (hit) return hit;
    let body: Buffer;
    try {
      body = await buffer(await this.blobs.open(d));
    } catch {
      return []; // bytes gone: nothing more to keep alive through it
    }
    const refs = referencesIn(body);
    this.known.set(d, refs);
    return refs;
  }
}

export function referencesIn(body: Buffer): Digest[] {
  let json: { config?: { digest?: unknown }; layers?: unknown; blobs?: unknown; manifests?: unknown };
  try {
    json = JSON.parse(body.toString('utf8')) as typeof json;
  } catch {
    return [];
  }
  const out: Digest[] = [];
  const add = (v: unknown) => {
    if (typeof v === 'string' && isDigest(v)) out.push(v);
  };
  add(json.config?.digest);
  for (const list of [json.layers, json.blobs, json.manifests]) {
    if (Array.isArray(list)) for (const item of list) add((item as { digest?: unknown } | null)?.digest);
  }
  return out;
}

export async function scanStore(index: MetadataIndex, blobs: BlobStore): Promise<StoreSnapshot> {
  const names = await index.listRepositories({});
  const byName = new Map<string, RepoContent>();
  const repoOf = (name: string) => {
    let r = byName.get(name);
    if (!r) byName.set(name, (r = { name, manifests: [], tags: new Map(), links: [] }));
    return r;
  };
  await forEachLimited(names, 8, async (name) => {
    const repo = repoOf(name);
    repo.manifests = await index.listManifests(name);
    for (const tag of (await index.listTags(name, {})) ?? []) {
      const d = await index.resolveTag(name, tag);
      if (d) repo.tags.set(tag, d);
    }
  });
  for (const link of await index.listBlobLinks()) repoOf(link.repo).links.push({ digest: link.digest, origin: link.origin });
  const stored = new Map<Digest, StoredBlob>();
  if (blobs.list) for await (const b of blobs.list()) stored.set(b.digest, b);
  return { repos: [...byName.values()], blobs: stored };
}

/** Digests a set of manifests keeps alive: the manifests themselves and everything they reference. */
export async function closure(digests: Iterable<Digest>, refs: ManifestReferences, into = new Set<Digest>()): Promise<Set<Digest>> {
  const fresh = [...new Set(digests)].filter((d) => !into.has(d));
  for (const d of fresh) into.add(d);
  await forEachLimited(fresh, 16, async (d) => {
    for (const r of await refs.of(d)) into.add(r);
  });
  return into;
}
