import type { Readable } from 'node:stream';
import { LRUCache } from 'lru-cache';
import { isDigest, type Digest } from '../oci/digest.js';
import { INDEX_TYPES } from '../oci/media-types.js';
import type { Descriptor } from '../oci/types.js';
import type { BlobStore } from '../storage/blob-store.js';

/** Keys of OCI annotations (and same-named labels) the pages show. */
export const ANNOTATION = {
  description: 'org.opencontainers.image.description',
  source: 'org.opencontainers.image.source',
  licenses: 'org.opencontainers.image.licenses',
  url: 'org.opencontainers.image.url',
  version: 'org.opencontainers.image.version',
  title: 'org.opencontainers.image.title',
  created: 'org.opencontainers.image.created',
} as const;

export interface PlatformRef {
  platform: string;
  digest: Digest;
  mediaType: string;
  size: number;
}

/** What one stored manifest says, with its config read: immutable, so cached by digest. */
export interface ManifestFacts {
  digest: Digest;
  mediaType: string;
  kind: 'image' | 'index' | 'other';
  /** Manifest size in bytes. */
  manifestSize: number;
  artifactType?: string;
  annotations: Record<string, string>;
  config?: Descriptor;
  layers: Descriptor[];
  /** Index children (an index only). */
  children: PlatformRef[];
  subject?: Digest;
  /** From the image config. */
  labels: Record<string, string>;
  platform?: string;
  created?: string;
}

interface RawDescriptor {
  mediaType?: unknown;
  digest?: unknown;
  size?: unknown;
  annotations?: unknown;
  platform?: { os?: unknown; architecture?: unknown; variant?: unknown };
  artifactType?: unknown;
}

/** Reads manifests and configs from the store (never from an upstream), bounded in size. */
export class ManifestReader {
  private readonly cache = new LRUCache<string, ManifestFacts>({ max: 5000 });

  constructor(
    private readonly blobs: BlobStore,
    private readonly maxBytes: number,
  ) {}

  async read(d: Digest, mediaType: string): Promise<ManifestFacts | undefined> {
    const hit = this.cache.get(d);
    if (hit) return hit;
    const body = await this.bytes(d);
    if (!body) return undefined;
    const json = parseObject(body);
    const kind = INDEX_TYPES.includes(mediaType) || Array.isArray(json.manifests) ? 'index' : json.config !== undefined ? 'image' : 'other';
    const facts: ManifestFacts = {
      digest: d,
      mediaType,
      kind,
      manifestSize: body.length,
      annotations: stringRecord(json.annotations),
      layers: kind === 'image' ? arrayOf(json.layers).map(descriptor).filter((x) => x !== undefined) : [],
      children: [],
      labels: {},
    };
    if (typeof json.artifactType === 'string') facts.artifactType = json.artifactType;
    const subject = descriptor(json.subject);
    if (subject) facts.subject = subject.digest;
    if (kind === 'index') {
      for (const raw of arrayOf(json.manifests)) {
        const child = descriptor(raw);
        if (child) facts.children.push({ platform: platformString((raw as RawDescriptor).platform) ?? 'unknown', digest: child.digest, mediaType: child.mediaType, size: child.size });
      }
    }
    const config = kind === 'image' ? descriptor(json.config) : undefined;
    let complete = true;
    if (config) {
      facts.config = config;
      const configBody = config.size <= this.maxBytes ? await this.bytes(config.digest) : undefined;
      if (configBody) {
        const c = parseObject(configBody);
        const inner = (typeof c.config === 'object' && c.config !== null ? c.config : {}) as Record<string, unknown>;
        facts.labels = stringRecord(inner.Labels);
        facts.platform = platformString(c as RawDescriptor['platform']) ?? platformString({ os: c.os, architecture: c.architecture, variant: c.variant });
        if (typeof c.created === 'string') facts.created = c.created;
      } else complete = false;
    }
    // A mirrored image's config may arrive after its manifest: only what is whole is remembered.
    if (complete) this.cache.set(d, facts);
    return facts;
  }

  /** The manifest's bytes; undefined when not held (e.g. a platform of a mirrored index never pulled). */
  async bytes(d: Digest): Promise<Buffer | undefined> {
    const stat = await this.blobs.stat(d);
    if (!stat || stat.size > this.maxBytes) return undefined;
    return collect(await this.blobs.open(d), this.maxBytes);
  }
}

async function collect(stream: Readable, max: number): Promise<Buffer> {
  const chunks: Buffer[] = [];
  let total = 0;
  for await (const chunk of stream) {
    total += (chunk as Buffer).length;
    if (total > max) {
      stream.destroy();
      throw new Error('manifest larger than allowed');
    }
    chunks.push(chunk as Buffer);
  }
  return Buffer.concat(chunks);
}

function parseObject(body: Buffer): Record<string, unknown> {
  try {
    const v: unknown = JSON.parse(body.toString('utf8'));
    return typeof v === 'object' && v !== null && !Array.isArray(v) ? (v as Record<string, unknown>) : {};
  } catch {
    return {};
  }
}

function arrayOf(v: unknown): unknown[] {
  return Array.isArray(v) ? v : [];
}

function descriptor(v: unknown): Descriptor | undefined {
  if (typeof v !== 'object' || v === null) return undefined;
  const r = v as RawDescriptor;
  if (typeof r.digest !== 'string' || !isDigest(r.digest) || typeof r.mediaType !== 'string') return undefined;
  const d: Descriptor = { mediaType: r.mediaType, digest: r.digest, size: typeof r.size === 'number' ? r.size : 0 };
  if (typeof r.artifactType === 'string') d.artifactType = r.artifactType;
  const annotations = stringRecord(r.annotations);
  if (Object.keys(annotations).length > 0) d.annotations = annotations;
  return d;
}

function stringRecord(v: unknown): Record<string, string> {
  if (typeof v !== 'object' || v === null || Array.isArray(v)) return {};
  const out: Record<string, string> = {};
  for (const [k, value] of Object.entries(v)) if (typeof value === 'string') out[k] = value;
  return out;
}

function platformString(p: RawDescriptor['platform'] | undefined): string | undefined {
  if (!p || typeof p.os !== 'string' || typeof p.architecture !== 'string') return undefined;
  return [p.os, p.architecture, typeof p.variant === 'string' ? p.variant : undefined].filter(Boolean).join('/');
}
