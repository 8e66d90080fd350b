import { randomBytes } from 'node:crypto';
import { DOCKER_LIST, DOCKER_MANIFEST, OCI_CONFIG, OCI_INDEX, OCI_LAYER_UNCOMPRESSED, OCI_MANIFEST, pushBlob, putManifest, sha256 } from './push.js';

/** An image built in memory, ready to push: its manifest and blobs with their digests. */
export interface PreparedImage {
  repo: string;
  tag: string;
  manifestDigest: string;
  manifest: Buffer<ArrayBuffer>;
  /** Config first, then layers. */
  blobs: Array<{ digest: string; data: Buffer<ArrayBuffer> }>;
}

/** A small image: a config blob and `layers` random layers of the given sizes (bytes are not a real tar: registries do not look). */
export function makeImage(repo: string, tag: string, layerSizes: readonly number[] = [1024, 2048]): PreparedImage {
  // Copied so the type is Buffer<ArrayBuffer>, which fetch accepts as a body.
  const layers = layerSizes.map((n) => Buffer.from(randomBytes(n)));
  const config = Buffer.from(JSON.stringify({ architecture: 'amd64', os: 'linux', rootfs: { type: 'layers', diff_ids: layers.map(sha256) } }));
  const manifest = Buffer.from(
    JSON.stringify({
      schemaVersion: 2,
      mediaType: OCI_MANIFEST,
      config: { mediaType: OCI_CONFIG, digest: sha256(config), size: config.length },
      layers: layers.map((l) => ({ mediaType: OCI_LAYER_UNCOMPRESSED, digest: sha256(l), size: l.length })),
    }),
  );
  return { repo, tag, manifest, manifestDigest: sha256(manifest), blobs: [config, ...layers].map((data) => ({ digest: sha256(data), data })) };
}

/**
 * Pushes like a client does, per blob: POST /blobs/uploads/ (202) then PUT <location>?digest= with the bytes (201);
 * then PUT the manifest by tag. So one push is 2 requests per blob + 1.
 */
export async function pushPreparedImage(baseUrl: string, image: PreparedImage, headers: Record<string, string> = {}): Promise<void> {
  for (const blob of image.blobs) await pushBlob(baseUrl, image.repo, blob.data, undefined, { headers });
  const res = await putManifest(baseUrl, image.repo, image.tag, image.manifest, OCI_MANIFEST, headers);
  if (res.status !== 201) throw new Error(`manifest put: ${res.status} ${await res.text()}`);
}

export interface PulledImage {
  manifestDigest: string;
  /** Bytes of the manifest asked for. */
  manifest: Buffer;
  /** Bytes of that manifest's config and layers, config first (none for an index). */
  blobs: Buffer[];
  /** digest → bytes of every manifest and blob fetched, an index's children included. */
  contents: Map<string, Buffer>;
}

const ACCEPT = [OCI_INDEX, DOCKER_LIST, OCI_MANIFEST, DOCKER_MANIFEST].join(', ');

/**
 * Pulls like a client: GET the manifest by reference, then (for an index, per child) GET every blob it names.
 * Throws on any non-200 and on a blob whose bytes do not match its digest.
 */
export async function pullImage(baseUrl: string, repo: string, ref: string, headers: Record<string, string> = {}): Promise<PulledImage> {
  const contents = new Map<string, Buffer>();
  const top = await fetchManifest(baseUrl, repo, ref, headers, contents);
  return { manifestDigest: top.digest, manifest: contents.get(top.digest)!, blobs: top.blobDigests.map((d) => contents.get(d)!), contents };
}

async function fetchManifest(
  baseUrl: string,
  repo: string,
  ref: string,
  headers: Record<string, string>,
  out: Map<string, Buffer>,
): Promise<{ digest: string; blobDigests: string[] }> {
  const res = await fetch(`${baseUrl}/v2/${repo}/manifests/${ref}`, { headers: { accept: ACCEPT, ...headers } });
  const body = Buffer.from(await res.arrayBuffer());
  if (res.status !== 200) throw new Error(`manifest ${repo}:${ref} → ${res.status} ${body.toString()}`);
  const digest = sha256(body);
  out.set(digest, body);
  const json = JSON.parse(body.toString()) as { config?: { digest: string }; layers?: Array<{ digest: string }>; manifests?: Array<{ digest: string }> };
  for (const child of json.manifests ?? []) await fetchManifest(baseUrl, repo, child.digest, headers, out);
  const blobDigests = [json.config?.digest, ...(json.layers ?? []).map((l) => l.digest)].filter((d) => d !== undefined);
  for (const d of blobDigests) {
    const blob = await fetch(`${baseUrl}/v2/${repo}/blobs/${d}`, { headers });
    const bytes = Buffer.from(await blob.arrayBuffer());
    if (blob.status !== 200) throw new Error(`blob ${d} → ${blob.status} ${bytes.toString().slice(0, 200)}`);
    if (sha256(bytes) !== d) throw new Error(`blob ${d} came back with digest ${sha256(bytes)}`);
    out.set(d, bytes);
  }
  return { digest, blobDigests };
}
