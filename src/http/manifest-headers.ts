/**
 * The headers of a manifest answer (GET or HEAD), shared by the express routes (manifest-handlers.ts) and the
 * hot lane (hot-manifests.ts). A module of its own: the routes and the router import each other.
 */
export function setManifestHeaders(res: { setHeader(name: string, value: string | number): unknown }, d: { mediaType: string; digest: string; size: number }): void {
  res.setHeader('Content-Type', d.mediaType);
  res.setHeader('Docker-Content-Digest', d.digest);
  res.setHeader('Content-Length', d.size);
  res.setHeader('ETag', `"${d.digest}"`);
}
