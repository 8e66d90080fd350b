import { createHash } from 'node:crypto';
import { readdir } from 'node:fs/promises';
import { join } from 'node:path';

/**
 * Small HTTP-level builders for the registry tests: push blobs and manifests over the real API
 * with fetch, so every test starts from content the server itself accepted. Also the one home of the
 * test suite's media-type constants and digest helpers.
 */

export const OCI_MANIFEST = 'application/vnd.oci.image.manifest.v1+json';
export const OCI_INDEX = 'application/vnd.oci.image.index.v1+json';
export const OCI_CONFIG = 'application/vnd.oci.image.config.v1+json';
export const OCI_EMPTY = 'application/vnd.oci.empty.v1+json';
export const OCI_LAYER = 'application/vnd.oci.image.layer.v1.tar+gzip';
export const OCI_LAYER_UNCOMPRESSED = 'application/vnd.oci.image.layer.v1.tar';
export const DOCKER_MANIFEST = 'application/vnd.docker.distribution.manifest.v2+json';
export const DOCKER_LIST = 'application/vnd.docker.distribution.manifest.list.v2+json';
export const DOCKER_CONFIG = 'application/vnd.docker.container.image.v1+json';
export const DOCKER_LAYER = 'application/vnd.docker.image.rootfs.diff.tar.gzip';
export const DOCKER_FOREIGN = 'application/vnd.docker.image.rootfs.foreign.diff.tar.gzip';

export interface Desc {
  mediaType: string;
  digest: string;
  size: number;
  artifactType?: string;
  annotations?: Record<string, string>;
  platform?: Record<string, string>;
  urls?: string[];
}

export function sha256(data: Uint8Array | string): string {
  return `sha256:${createHash('sha256').update(data).digest('hex')}`;
}

export function sha512(data: Uint8Array | string): string {
  return `sha512:${createHash('sha512').update(data).digest('hex')}`;
}

/** Error code of a registry error body, or undefined when the body is not one. */
export async function errorCode(res: Response): Promise<string | undefined> {
  const text = await res.text();
  try {
    const body = JSON.parse(text) as { errors?: Array<{ code?: string }> };
    return body.errors?.[0]?.code;
  } catch {
    return undefined;
  }
}

export interface PushBlobOptions {
  /** Sent on every request, e.g. authorization. */
  headers?: Record<string, string>;
  /** One POST ?digest= with the bytes (201) instead of POST (202) then PUT <location>?digest= (201). */
  singleRequest?: boolean;
}

/** Uploads `data` monolithically (POST + PUT, or one POST with `singleRequest`); returns the blob's descriptor. */
export async function pushBlob(url: string, repo: string, data: Uint8Array | string, mediaType = OCI_LAYER, options: PushBlobOptions = {}): Promise<Desc> {
  const headers = options.headers ?? {};
  const bytes = toBuffer(data);
  const digest = sha256(bytes);
  if (options.singleRequest) {
    const res = await fetch(`${url}/v2/${repo}/blobs/uploads/?digest=${digest}`, {
      method: 'POST',
      headers: { ...headers, 'content-type': 'application/octet-stream', 'content-length': String(bytes.length) },
      body: bytes,
    });
    if (res.status !== 201) throw new Error(`push blob to ${repo}: ${res.status} ${await res.text()}`);
    return { mediaType, digest, size: bytes.length };
  }
  const start = await fetch(`${url}/v2/${repo}/blobs/uploads/`, { method: 'POST', headers });
  if (start.status !== 202) throw new Error(`upload start: ${start.status} ${await start.text()}`);
  const location = new URL(start.headers.get('location')!, url);
  location.searchParams.set('digest', digest);
  const put = await fetch(location, { method: 'PUT', body: bytes, headers: { ...headers, 'Content-Type': 'application/octet-stream' } });
  if (put.status !== 201) throw new Error(`upload put: ${put.status} ${await put.text()}`);
  return { mediaType, digest, size: bytes.length };
}

/** PUT a manifest; `headers` (e.g. authorization) are sent along with the Content-Type. */
export async function putManifest(
  url: string,
  repo: string,
  ref: string,
  body: Uint8Array | string,
  contentType?: string,
  headers: Record<string, string> = {},
): Promise<Response> {
  const all: Record<string, string> = { ...headers };
  if (contentType !== undefined) all['Content-Type'] = contentType;
  return fetch(`${url}/v2/${repo}/manifests/${ref}`, { method: 'PUT', body: toBuffer(body), headers: all });
}

/** A copy as Buffer<ArrayBuffer>, the type fetch accepts as a body. */
function toBuffer(data: Uint8Array | string): Buffer<ArrayBuffer> {
  return typeof data === 'string' ? Buffer.from(data) : Buffer.from(data);
}

export function imageManifest(config: Desc, layers: Desc[], extra: Record<string, unknown> = {}, mediaType = OCI_MANIFEST): Buffer {
  return Buffer.from(JSON.stringify({ schemaVersion: 2, mediaType, config, layers, ...extra }));
}

export function indexManifest(manifests: Desc[], extra: Record<string, unknown> = {}, mediaType = OCI_INDEX): Buffer {
  return Buffer.from(JSON.stringify({ schemaVersion: 2, mediaType, manifests, ...extra }));
}

export interface PushedImage {
  config: Desc;
  layers: Desc[];
  manifest: Desc;
  body: Buffer;
}

/** Pushes a config, the given layers and an image manifest tagged `tag` (or by digest when tag is undefined). */
export async function pushImage(
  url: string,
  repo: string,
  tag: string | undefined,
  options: { seed?: string; layers?: string[]; docker?: boolean; extra?: Record<string, unknown> } = {},
): Promise<PushedImage> {
  const seed = options.seed ?? 'image';
  const docker = options.docker ?? false;
  const config = await pushBlob(url, repo, JSON.stringify({ architecture: 'amd64', os: 'linux', seed }), docker ? DOCKER_CONFIG : OCI_CONFIG);
  const layers: Desc[] = [];
  for (const content of options.layers ?? [`layer of ${seed}`]) layers.push(await pushBlob(url, repo, content, docker ? DOCKER_LAYER : OCI_LAYER));
  const mediaType = docker ? DOCKER_MANIFEST : OCI_MANIFEST;
  const body = imageManifest(config, layers, options.extra, mediaType);
  const digest = sha256(body);
  const res = await putManifest(url, repo, tag ?? digest, body, mediaType);
  if (res.status !== 201) throw new Error(`manifest put: ${res.status} ${await res.text()}`);
  return { config, layers, manifest: { mediaType, digest, size: body.length }, body };
}

/** Every file under `dir`, relative, sorted. */
export async function listFiles(dir: string): Promise<string[]> {
  const out: string[] = [];
  const walk = async (d: string, rel: string): Promise<void> => {
    let entries;
    try {
      entries = await readdir(d, { withFileTypes: true });
    } catch {
      return;
    }
    for (const e of entries) {
      if (e.isDirectory()) await walk(join(d, e.name), join(rel, e.name));
      else out.push(join(rel, e.name));
    }
  };
  await walk(dir, '');
  return out.sort();
}

/** On-disk path of a blob, mirroring src/storage/layout.ts (the test checks the layout, not trusts it). */
export function blobPath(dataDir: string, digest: string): string {
  const [alg, hex] = digest.split(':') as [string, string];
  return join(dataDir, 'blobs', alg, hex.slice(0, 2), hex);
}
