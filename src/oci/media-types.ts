export const MediaType = {
  OciManifest: 'application/vnd.oci.image.manifest.v1+json',
  OciIndex: 'application/vnd.oci.image.index.v1+json',
  OciConfig: 'application/vnd.oci.image.config.v1+json',
  OciEmpty: 'application/vnd.oci.empty.v1+json',
  DockerManifest: 'application/vnd.docker.distribution.manifest.v2+json',
  DockerManifestList: 'application/vnd.docker.distribution.manifest.list.v2+json',
  DockerSchema1: 'application/vnd.docker.distribution.manifest.v1+json',
  DockerSchema1Signed: 'application/vnd.docker.distribution.manifest.v1+prettyjws',
  DockerForeignLayer: 'application/vnd.docker.image.rootfs.foreign.diff.tar.gzip',
} as const;

export const IMAGE_MANIFEST_TYPES: readonly string[] = [MediaType.OciManifest, MediaType.DockerManifest];
export const INDEX_TYPES: readonly string[] = [MediaType.OciIndex, MediaType.DockerManifestList];
export const MANIFEST_TYPES: readonly string[] = [...IMAGE_MANIFEST_TYPES, ...INDEX_TYPES];

/** Every manifest type a mirror asks upstream for, in preference order. */
export const ACCEPT_ALL_MANIFESTS: readonly string[] = [
  MediaType.OciIndex,
  MediaType.DockerManifestList,
  MediaType.OciManifest,
  MediaType.DockerManifest,
];

/** Layers whose blobs live elsewhere (Windows base layers, OCI non-distributable): pushed without their blob. */
export function isForeignLayer(mediaType: string, urls: unknown): boolean {
  return (
    mediaType === MediaType.DockerForeignLayer ||
    mediaType.startsWith('application/vnd.oci.image.layer.nondistributable.') ||
    (Array.isArray(urls) && urls.length > 0)
  );
}

/** Splits Accept headers (repeated or comma-joined) into bare media types. */
export function parseAccept(values: string | readonly string[] | undefined): string[] {
  if (values === undefined) return [];
  const list = typeof values === 'string' ? [values] : values;
  return list
    .flatMap((v) => v.split(','))
    .map((v) => v.split(';')[0]!.trim().toLowerCase())
    .filter((v) => v.length > 0);
}

/**
 * Whether a manifest stored as `mediaType` may be served to a client that sent `accept`.
 * Only an Accept that names manifest types without a wildcard constrains the answer, as in Distribution.
 */
export function acceptsManifest(accept: readonly string[], mediaType: string): boolean {
  const named = accept.filter((a) => a === '*/*' || a === 'application/*' || MANIFEST_TYPES.includes(a));
  if (named.length === 0) return true;
  return named.some((a) => a === '*/*' || a === 'application/*' || a === mediaType);
}
