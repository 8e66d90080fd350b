import { createHash, randomBytes } from 'node:crypto';

export const OCI_IMAGE_MANIFEST = 'application/vnd.oci.image.manifest.v1+json';

export interface PushedImage {
  repo: string;
  tag: string;
  manifestDigest: string;
  manifest: Buffer<ArrayBuffer>;
  /** Config first, then layers. */
  blobs: Array<{ digest: string; data: Buffer<ArrayBuffer> }>;
}

export function sha256(data: Buffer | string): string {
  return `sha256:${createHash('sha256').update(data).digest('hex')}`;
}

/** A small image: a config blob and `layers` random layers of the given sizes (bytes are not a real tar: registries do not look). */
export function makeImage(repo: string, tag: string, layerSizes: readonly number[] = [1024, 2048]): PushedImage {
  // Copied so the type is Buffer<ArrayBuffer>, which fetch accepts as a body.
  const layers = layerSizes.map((n) => Buffer.from(randomBytes(n)));
  const config = Buffer.from(JSON.stringify({ architecture: 'amd64', os: 'linux', rootfs: { type: 'layers', diff_ids: layers.map(sha256) } }));
  const manifest = Buffer.from(
    JSON.stringify({
      schemaVersion: 2,
      mediaType: OCI_IMAGE_MANIFEST,
      config: { mediaType: 'application/vnd.oci.image.config.v1+json', digest: sha256(config), size: config.length },
      layers: layers.map((l) => ({ mediaType: 'application/vnd.oci.image.layer.v1.tar', digest: sha256(l), size: l.length })),
    }),
  );
  return { repo, tag, manifest, manifestDigest: sha256(manifest), blobs: [config, ...layers].map((data) => ({ digest: sha256(data), data })) };
}

/**
 * Pushes like a client does, per blob: POST /blobs/uploads/ (202) then PUT <location>?digest= with the bytes (201);
 * then PUT the manifest by tag. So one push is 2 requests per blob + 1.
 */
export async function pushImage(baseUrl: string, image: PushedImage, headers: Record<string, string> = {}): Promise<void> {
  for (const blob of image.blobs) {
    const start = await fetch(`${baseUrl}/v2/${image.repo}/blobs/uploads/`, { method: 'POST', headers });
    if (start.status !== 202) throw new Error(`upload start: ${start.status} ${await start.text()}`);
    const location = new URL(start.headers.get('location')!, baseUrl);
    location.searchParams.set('digest', blob.digest);
    const put = await fetch(location, { method: 'PUT', headers: { ...headers, 'content-type': 'application/octet-stream' }, body: blob.data });
    if (put.status !== 201) throw new Error(`upload finish: ${put.status} ${await put.text()}`);
  }
  const res = await fetch(`${baseUrl}/v2/${image.repo}/manifests/${image.tag}`, {
    method: 'PUT',
    headers: { ...headers, 'content-type': OCI_IMAGE_MANIFEST },
    body: image.manifest,
  });
  if (res.status !== 201) throw new Error(`manifest put: ${res.status} ${await res.text()}`);
}

/** Pulls like a client: GET the manifest by reference, then GET every blob it names. Returns bytes of each response body. */
export async function pullImage(baseUrl: string, repo: string, ref: string, headers: Record<string, string> = {}): Promise<{ manifest: Buffer; blobs: Buffer[] }> {
  const res = await fetch(`${baseUrl}/v2/${repo}/manifests/${ref}`, { headers: { accept: OCI_IMAGE_MANIFEST, ...headers } });
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
