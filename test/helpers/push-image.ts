import { randomBytes } from 'node:crypto';
import { OCI_CONFIG, OCI_LAYER_UNCOMPRESSED, OCI_MANIFEST, pushBlob, putManifest, sha256 } from './push.js';

export interface PushedImage {
  repo: string;
  tag: string;
  manifestDigest: string;
  manifest: Buffer<ArrayBuffer>;
  /** Config first, then layers. */
  blobs: Array<{ digest: string; data: Buffer<ArrayBuffer> }>;
}

/** A small image: a config blob and `layers` random layers of the given sizes (bytes are not a real tar: registries do not look). */
export function makeImage(repo: string, tag: string, layerSizes: readonly number[] = [1024, 2048]): PushedImage {
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
export async function pushImage(baseUrl: string, image: PushedImage, headers: Record<string, string> = {}): Promise<void> {
  for (const blob of image.blobs) await pushBlob(baseUrl, image.repo, blob.data, undefined, headers);
  const res = await putManifest(baseUrl, image.repo, image.tag, image.manifest, OCI_MANIFEST, headers);
  if (res.status !== 201) throw new Error(`manifest put: ${res.status} ${await res.text()}`);
}

/** Pulls like a client: GET the manifest by reference, then GET every blob it names. Returns bytes of each response body. */
export async function pullImage(baseUrl: string, repo: string, ref: string, headers: Record<string, string> = {}): Promise<{ manifest: Buffer; blobs: Buffer[] }> {
  const res = await fetch(`${baseUrl}/v2/${repo}/manifests/${ref}`, { headers: { accept: OCI_MANIFEST, ...headers } });
  if (res.status !== 200) throw new Error(`manifest get ${repo}:${ref}: ${res.status} ${await res.text()}`);
  const manifest = Buffer.from(await res.arrayBuffer());
  const parsed = JSON.parse(manifest.toString()) as { config: { digest: string }; layers: Array<{ digest: string }> };
  const blobs: Buffer[] = [];
  for (const d of [parsed.config.digest, ...parsed.layers.map((l) => l.digest)]) {
    const blob = await fetch(`${baseUrl}/v2/${repo}/blobs/${d}`, { headers });
    if (blob.status !== 200) throw new Error(`blob get ${d}: ${blob.status}`);
    blobs.push(Buffer.from(await blob.arrayBuffer()));
  }
  return { manifest, blobs };
}
