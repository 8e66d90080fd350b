import type { ImageFactsStore, Checksums, FileEntry } from '../metadata/image-facts-store.js';

// Re-exported so ui/ and api/ can name them without importing metadata/ (an import-boundary rule).
export type { Checksums, FileEntry };
import { paginate, type MetadataIndex } from '../metadata/metadata-index.js';
import { isDigest, type Digest } from '../oci/digest.js';
import { OciError } from '../oci/errors.js';
import { isValidTag } from '../oci/names.js';
import type { Page } from '../oci/types.js';
import { checksumsOf } from './checksums.js';
import type { DownloadCounter } from './download-counter.js';
import type { LayerFactsService, LayerState } from './layer-facts.js';
import { ANNOTATION, type ManifestFacts, type ManifestReader, type PlatformRef } from './manifest-reader.js';

/** Who is looking: only repositories they may pull exist for them. */
export interface Viewer {
  readonly subject: string | null;
  allows(repo: string, action: 'pull'): boolean;
}

export interface UpstreamInfo {
  readonly name: string;
  readonly prefix?: string;
  readonly default: boolean;
}

export interface ReadModelDeps {
  index: MetadataIndex;
  reader: ManifestReader;
  facts: ImageFactsStore;
  layers: LayerFactsService;
  downloads: DownloadCounter;
  upstreams: readonly UpstreamInfo[];
  /** 'public' when anonymous callers may pull it. */
  visibility(repo: string): 'public' | 'private';
}

export interface RepositorySummary {
  name: string;
  origin: 'hosted' | 'mirrored';
  upstream?: string;
  tagCount: number;
  /** Bytes of the distinct blobs (configs and layers) of its tagged images. */
  size: number;
  /** Last push, or when content was first cached (ms). */
  updatedAt?: number;
  description?: string;
  visibility: 'public' | 'private';
  downloads: number;
}

export interface TagRow {
  tag: string;
  digest: Digest;
  mediaType: string;
  kind: ManifestFacts['kind'];
  platforms: string[];
  size: number;
  createdAt?: number;
}

export interface LayerView {
  digest: Digest;
  mediaType: string;
  size: number;
  state: LayerState['state'];
  checksums?: Checksums;
  files?: number;
  entries?: number;
  listed?: boolean;
  reason?: string;
}

export interface ImageView {
  repository: string;
  reference: string;
  digest: Digest;
  mediaType: string;
  kind: ManifestFacts['kind'];
  origin: 'hosted' | 'mirrored';
  upstream?: string;
  visibility: 'public' | 'private';
  /** Pushed, or first cached (ms). */
  createdAt?: number;
  tags: string[];
  checksums: Checksums;
  annotations: Record<string, string>;
  labels: Record<string, string>;
  description?: string;
  source?: string;
  licenses?: string;
  platform?: string;
  created?: string;
  platforms: PlatformRef[];
  config?: { digest: Digest; size: number; mediaType: string };
  layers: LayerView[];
  /** Files (non-directories) over all layers; undefined until every layer is listed. */
  totalFiles?: number;
  /** Manifest, config and layers, in bytes as stored. */
  size: number;
  referrers: Array<{ digest: Digest; mediaType: string; artifactType?: string; size: number; annotations: Record<string, string> }>;
  downloads: { image: number; repository: number };
}

/** The facts the pages and the JSON API show, from the one index, for hosted and mirrored content alike. */
export class ReadModel {
  constructor(private readonly d: ReadModelDeps) {}

  async repositories(viewer: Viewer, query: { q?: string; page?: Page }): Promise<{ items: RepositorySummary[]; next?: string }> {
    const names = (await this.d.index.listRepositories({})).filter((r) => viewer.allows(r, 'pull'));
    const q = query.q?.trim().toLowerCase() ?? '';
    const matching: RepositorySummary[] = [];
    for (const name of names) {
      if (q !== '' && !name.toLowerCase().includes(q)) {
        // Only the description can still match: summarise and look.
        const s = await this.summary(name);
        if (s.description?.toLowerCase().includes(q)) matching.push(s);
        continue;
      }
      matching.push(await this.summary(name));
    }
    const byName = new Map(matching.map((s) => [s.name, s]));
    const page = query.page ?? {};
    const names2 = paginate([...byName.keys()].sort(), page.n === undefined ? page : { ...page, n: page.n + 1 });
    const more = page.n !== undefined && names2.length > page.n;
    const shown = more ? names2.slice(0, page.n) : names2;
    return { items: shown.map((n) => byName.get(n)!), next: more ? shown[shown.length - 1] : undefined };
  }

  async repository(viewer: Viewer, name: string): Promise<RepositorySummary> {
    await this.requireVisible(viewer, name);
    return this.summary(name);
  }

  async tags(viewer: Viewer, name: string, page: Page): Promise<{ items: TagRow[]; next?: string }> {
    await this.requireVisible(viewer, name);
    const n = page.n ?? 50;
    const tags = (await this.d.index.listTags(name, { ...page, n: n + 1 })) ?? [];
    const more = tags.length > n;
    const rows: TagRow[] = [];
    for (const tag of tags.slice(0, n)) {
      const row = await this.tagRow(name, tag);
      if (row) rows.push(row);
    }
    return { items: rows, next: more ? tags[n - 1] : undefined };
  }

  async image(viewer: Viewer, name: string, ref: string): Promise<ImageView> {
    await this.requireVisible(viewer, name);
    const digest = await this.resolve(name, ref);
    const record = digest && (await this.d.index.getManifest(name, digest));
    const m = record && (await this.d.reader.read(record.digest, record.mediaType));
    const body = m && (await this.d.reader.bytes(m.digest));
    if (!record || !m || !body) throw new OciError('MANIFEST_UNKNOWN', 'manifest unknown');
    const checksums = (await this.d.facts.getChecksums(m.digest)) ?? checksumsOf(body);
    if (!(await this.d.facts.getChecksums(m.digest))) await this.d.facts.putChecksums(m.digest, checksums);
    const layers: LayerView[] = [];
    for (const l of m.layers) layers.push(layerView(l.digest, l.mediaType, l.size, await this.d.layers.state(l.digest, l.mediaType)));
    const allListed = layers.every((l) => l.state === 'ready');
    const referrers = (await this.d.index.referrers(name, m.digest)).map((r) => ({
      digest: r.digest,
      mediaType: r.mediaType,
      artifactType: r.artifactType,
      size: r.size,
      annotations: r.annotations ?? {},
    }));
    const downloads = await this.d.downloads.counts(name);
    const merged = { ...m.labels, ...m.annotations };
    const view: ImageView = {
      repository: name,
      reference: ref,
      digest: m.digest,
      mediaType: m.mediaType,
      kind: m.kind,
      origin: record.origin === 'cached' ? 'mirrored' : 'hosted',
      upstream: record.origin === 'cached' ? this.upstreamOf(name, true) : undefined,
      visibility: this.d.visibility(name),
      createdAt: record.createdAt,
      tags: await this.d.index.tagsFor(name, m.digest),
      checksums,
      annotations: m.annotations,
      labels: m.labels,
      description: await this.describe(m),
      source: merged[ANNOTATION.source],
      licenses: merged[ANNOTATION.licenses],
      platform: m.platform,
      created: m.created,
      platforms: m.children,
      layers,
      totalFiles: allListed ? layers.reduce((a, l) => a + (l.files ?? 0), 0) : undefined,
      size: m.manifestSize + (m.config?.size ?? 0) + m.layers.reduce((a, l) => a + l.size, 0),
      referrers,
      downloads: { image: downloads.byDigest[m.digest] ?? 0, repository: downloads.total },
    };
    if (m.config) view.config = { digest: m.config.digest, size: m.config.size, mediaType: m.config.mediaType };
    return view;
  }

  /** A page of one layer's files; the layer must belong to a repository the viewer may pull. */
  async files(viewer: Viewer, name: string, layer: string, offset: number, limit: number): Promise<{ state: LayerState['state']; items: FileEntry[]; total?: number; reason?: string }> {
    await this.requireVisible(viewer, name);
    if (!isDigest(layer) || !(await this.d.index.hasBlob(name, layer))) throw new OciError('BLOB_UNKNOWN', 'blob unknown to registry');
    const facts = await this.d.facts.getLayer(layer);
    if (!facts) return { state: 'pending', items: [] };
    if (facts.contents !== 'listed') return { state: 'ready', items: [], total: 0, reason: facts.reason };
    return { state: 'ready', items: await this.d.facts.listFiles(layer, offset, limit), total: facts.entries };
  }

  /** Same answer for "does not exist" and "you may not see it": a hidden name never shows. */
  private async requireVisible(viewer: Viewer, name: string): Promise<void> {
    if (!viewer.allows(name, 'pull') || !(await this.d.index.repositoryExists(name))) throw new OciError('NAME_UNKNOWN', 'repository name not known to registry');
  }

  private async resolve(name: string, ref: string): Promise<Digest | undefined> {
    if (isDigest(ref)) return ref;
    if (!isValidTag(ref)) return undefined;
    return this.d.index.resolveTag(name, ref);
  }

  private async tagRow(name: string, tag: string): Promise<TagRow | undefined> {
    const digest = await this.d.index.resolveTag(name, tag);
    const record = digest && (await this.d.index.getManifest(name, digest));
    const m = record && (await this.d.reader.read(record.digest, record.mediaType));
    if (!record || !m) return undefined;
    const { size, platforms } = await this.sizeOf(m);
    return { tag, digest: m.digest, mediaType: m.mediaType, kind: m.kind, platforms, size, createdAt: record.createdAt };
  }

  private async sizeOf(m: ManifestFacts, blobs?: Map<string, number>): Promise<{ size: number; platforms: string[] }> {
    const add = (d: Digest, n: number) => blobs?.set(d, n);
    if (m.kind !== 'index') {
      if (m.config) add(m.config.digest, m.config.size);
      for (const l of m.layers) add(l.digest, l.size);
      return { size: (m.config?.size ?? 0) + m.layers.reduce((a, l) => a + l.size, 0), platforms: m.platform ? [m.platform] : [] };
    }
    let size = 0;
    for (const c of m.children) {
      const child = await this.d.reader.read(c.digest, c.mediaType);
      if (child) size += (await this.sizeOf(child, blobs)).size;
    }
    return { size, platforms: m.children.map((c) => c.platform) };
  }

  private async summary(name: string): Promise<RepositorySummary> {
    const tags = (await this.d.index.listTags(name, {})) ?? [];
    const blobs = new Map<string, number>();
    let updatedAt: number | undefined;
    let cached = false;
    let description: string | undefined;
    for (const tag of tags) {
      const digest = await this.d.index.resolveTag(name, tag);
      const record = digest && (await this.d.index.getManifest(name, digest));
      const m = record && (await this.d.reader.read(record.digest, record.mediaType));
      if (!record || !m) continue;
      if (record.origin === 'cached') cached = true;
      await this.sizeOf(m, blobs);
      // The description of the most recently pushed or cached tag.
      if (updatedAt === undefined || record.createdAt >= updatedAt) {
        updatedAt = record.createdAt;
        description = (await this.describe(m)) ?? description;
      }
    }
    const mirrored = cached || this.prefixUpstream(name) !== undefined;
    const s: RepositorySummary = {
      name,
      origin: mirrored ? 'mirrored' : 'hosted',
      tagCount: tags.length,
      size: [...blobs.values()].reduce((a, b) => a + b, 0),
      visibility: this.d.visibility(name),
      downloads: (await this.d.downloads.counts(name)).total,
    };
    if (mirrored) s.upstream = this.upstreamOf(name, cached);
    if (updatedAt !== undefined) s.updatedAt = updatedAt;
    if (description !== undefined) s.description = description;
    return s;
  }

  private async describe(m: ManifestFacts): Promise<string | undefined> {
    const own = m.annotations[ANNOTATION.description] ?? m.labels[ANNOTATION.description];
    if (own !== undefined || m.kind !== 'index') return own;
    for (const c of m.children) {
      const child = await this.d.reader.read(c.digest, c.mediaType);
      const found = child && (child.annotations[ANNOTATION.description] ?? child.labels[ANNOTATION.description]);
      if (found) return found;
    }
    return undefined;
  }

  private prefixUpstream(name: string): UpstreamInfo | undefined {
    return this.d.upstreams.find((u) => u.prefix !== undefined && name.startsWith(u.prefix));
  }

  private upstreamOf(name: string, cached: boolean): string | undefined {
    return (this.prefixUpstream(name) ?? (cached ? this.d.upstreams.find((u) => u.default) : undefined))?.name;
  }
}

function layerView(digest: Digest, mediaType: string, size: number, s: LayerState): LayerView {
  const v: LayerView = { digest, mediaType, size, state: s.state };
  if (s.state === 'ready') {
    v.checksums = s.facts.checksums;
    v.files = s.facts.files;
    v.entries = s.facts.entries;
    v.listed = s.facts.contents === 'listed';
    if (s.facts.reason !== undefined) v.reason = s.facts.reason;
  } else if (s.state === 'failed') v.reason = s.reason;
  else if (s.state === 'missing') v.reason = 'layer not held here (never pulled through the cache)';
  return v;
}
