import { z } from 'zod';
import { isDigest, type Digest } from './digest.js';
import { OciError } from './errors.js';
import { INDEX_TYPES, IMAGE_MANIFEST_TYPES, MediaType, isForeignLayer } from './media-types.js';
import type { Descriptor } from './types.js';

const descriptorSchema = z
  .object({
    mediaType: z.string().min(1),
    digest: z.string().refine(isDigest, 'invalid digest'),
    size: z.number().int().nonnegative(),
    artifactType: z.string().optional(),
    annotations: z.record(z.string()).optional(),
    platform: z.record(z.unknown()).optional(),
    urls: z.array(z.string()).optional(),
  })
  .passthrough();

const imageManifestSchema = z
  .object({
    schemaVersion: z.literal(2),
    mediaType: z.string().optional(),
    artifactType: z.string().optional(),
    config: descriptorSchema,
    layers: z.array(descriptorSchema),
    subject: descriptorSchema.optional(),
    annotations: z.record(z.string()).optional(),
  })
  .passthrough();

const indexSchema = z
  .object({
    schemaVersion: z.literal(2),
    mediaType: z.string().optional(),
    artifactType: z.string().optional(),
    manifests: z.array(descriptorSchema),
    subject: descriptorSchema.optional(),
    annotations: z.record(z.string()).optional(),
  })
  .passthrough();

type RawDescriptor = z.infer<typeof descriptorSchema>;

export interface ParsedManifest {
  mediaType: string;
  /** Blobs that must exist in the repository (config and distributable layers). */
  blobs: Descriptor[];
  /** Child manifests that must exist in the repository (index entries). */
  manifests: Descriptor[];
  subject?: Descriptor;
  /** The type the referrers API reports: artifactType, else the config's media type. */
  artifactType?: string;
  annotations?: Record<string, string>;
}

export function stripParameters(contentType: string | undefined): string | undefined {
  const bare = contentType?.split(';')[0]?.trim().toLowerCase();
  return bare ? bare : undefined;
}

/** Parses and validates a pushed manifest; all failures are MANIFEST_INVALID. */
export function parseManifest(body: Buffer, contentType: string | undefined): ParsedManifest {
  let json: unknown;
  try {
    json = JSON.parse(body.toString('utf8'));
  } catch {
    throw new OciError('MANIFEST_INVALID', 'manifest is not valid JSON');
  }
  if (typeof json !== 'object' || json === null || Array.isArray(json)) {
    throw new OciError('MANIFEST_INVALID', 'manifest must be a JSON object');
  }
  const record = json as Record<string, unknown>;
  const declared = typeof record.mediaType === 'string' ? record.mediaType : undefined;
  const header = stripParameters(contentType);
  const mediaType = resolveMediaType(declared, header, record);

  if (IMAGE_MANIFEST_TYPES.includes(mediaType)) return parseImageManifest(record, mediaType);
  if (INDEX_TYPES.includes(mediaType)) return parseIndex(record, mediaType);
  if (mediaType === MediaType.DockerSchema1 || mediaType === MediaType.DockerSchema1Signed) {
    throw new OciError('MANIFEST_INVALID', 'Docker schema 1 manifests are not supported');
  }
  throw new OciError('MANIFEST_INVALID', `unsupported manifest media type: ${mediaType.slice(0, 100)}`);
}

function resolveMediaType(declared: string | undefined, header: string | undefined, record: Record<string, unknown>): string {
  if (declared && header && declared !== header && header !== 'application/json') {
    throw new OciError('MANIFEST_INVALID', 'manifest mediaType does not match Content-Type', {
      detail: { mediaType: declared, contentType: header },
    });
  }
  if (declared) return declared;
  if (header && header !== 'application/json') return header;
  return 'manifests' in record ? MediaType.OciIndex : MediaType.OciManifest;
}

function parseImageManifest(record: Record<string, unknown>, mediaType: string): ParsedManifest {
  const parsed = imageManifestSchema.safeParse(record);
  if (!parsed.success) throw invalid(parsed.error);
  const m = parsed.data;
  const layers = m.layers.filter((l) => !isForeignLayer(l.mediaType, l.urls));
  return {
    mediaType,
    blobs: [toDescriptor(m.config), ...layers.map(toDescriptor)],
    manifests: [],
    subject: m.subject ? toDescriptor(m.subject) : undefined,
    artifactType: m.artifactType ?? m.config.mediaType,
    annotations: m.annotations,
  };
}

function parseIndex(record: Record<string, unknown>, mediaType: string): ParsedManifest {
  const parsed = indexSchema.safeParse(record);
  if (!parsed.success) throw invalid(parsed.error);
  const m = parsed.data;
  return {
    mediaType,
    blobs: [],
    manifests: m.manifests.map(toDescriptor),
    subject: m.subject ? toDescriptor(m.subject) : undefined,
    artifactType: m.artifactType,
    annotations: m.annotations,
  };
}

function toDescriptor(d: RawDescriptor): Descriptor {
  const out: Descriptor = { mediaType: d.mediaType, digest: d.digest as Digest, size: d.size };
  if (d.artifactType !== undefined) out.artifactType = d.artifactType;
  if (d.annotations !== undefined) out.annotations = d.annotations;
  if (d.platform !== undefined) out.platform = d.platform;
  return out;
}

function invalid(error: z.ZodError): OciError {
  const issue = error.issues[0];
  const where = issue?.path.join('.') || '(root)';
  return new OciError('MANIFEST_INVALID', `manifest invalid at ${where}: ${issue?.message ?? 'invalid'}`);
}
