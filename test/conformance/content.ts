import { randomBytes, randomUUID } from 'node:crypto';
import { expect } from 'vitest';
import { locationOf, sha256, type RegistryClient } from './registry-client.js';

/** Content for the flows, pushed through the plain spec flows so any registry under test accepts it. */

export { OCI_CONFIG, OCI_EMPTY, OCI_INDEX, OCI_LAYER, OCI_MANIFEST } from '../helpers/push.js';
import { OCI_CONFIG, OCI_EMPTY, OCI_INDEX, OCI_LAYER, OCI_MANIFEST } from '../helpers/push.js';

export interface Descriptor {
  mediaType: string;
  digest: string;
  size: number;
  artifactType?: string;
  annotations?: Record<string, string>;
  platform?: { architecture: string; os: string };
}

export interface Blob {
  bytes: Buffer<ArrayBuffer>;
  descriptor: Descriptor;
}

export interface Manifest {
  body: Buffer<ArrayBuffer>;
  descriptor: Descriptor;
}

/** A repository name no other test uses (the grammar allows any depth of '/'). */
export function uniqueRepo(flow: string): string {
  return `conformance/${flow}/${randomUUID().slice(0, 8)}`;
}

export function makeBlob(size = 1024, mediaType = OCI_LAYER): Blob {
  const bytes = Buffer.from(randomBytes(size));
  return { bytes, descriptor: { mediaType, digest: sha256(bytes), size } };
}

export function makeConfig(): Blob {
  const bytes = Buffer.from(JSON.stringify({ architecture: 'amd64', os: 'linux', rootfs: { type: 'layers', diff_ids: [] }, id: randomUUID() }));
  return { bytes, descriptor: { mediaType: OCI_CONFIG, digest: sha256(bytes), size: bytes.length } };
}

/** The OCI empty descriptor's content, `{}`, used as the config of artifacts. */
export function makeEmptyConfig(): Blob {
  const bytes = Buffer.from('{}');
  return { bytes, descriptor: { mediaType: OCI_EMPTY, digest: sha256(bytes), size: 2 } };
}

function manifestOf(json: Record<string, unknown>, mediaType: string): Manifest {
  const body = Buffer.from(JSON.stringify({ schemaVersion: 2, mediaType, ...json }));
  return { body, descriptor: { mediaType, digest: sha256(body), size: body.length } };
}

export function makeImageManifest(config: Descriptor, layers: Descriptor[], extra: Record<string, unknown> = {}): Manifest {
  return manifestOf({ config, layers, ...extra }, OCI_MANIFEST);
}

export function makeIndex(manifests: Descriptor[], extra: Record<string, unknown> = {}): Manifest {
  return manifestOf({ manifests, ...extra }, OCI_INDEX);
}

/** POST then PUT (the spec's first monolithic way); asserts 202 then 201. */
export async function pushBlob(client: RegistryClient, repo: string, blob: Blob): Promise<void> {
  const start = await client.startUpload(repo);
  expect(start.status).toBe(202);
  const put = await client.request('PUT', locationOf(start), {
    query: { digest: blob.descriptor.digest },
    body: blob.bytes,
    headers: { 'Content-Type': 'application/octet-stream' },
  });
  expect(put.status, await put.clone().text()).toBe(201);
}

export async function pushManifest(client: RegistryClient, repo: string, ref: string, manifest: Manifest): Promise<void> {
  const res = await client.putManifest(repo, ref, manifest.body, manifest.descriptor.mediaType);
  expect(res.status, await res.clone().text()).toBe(201);
}

export interface PushedImage {
  config: Blob;
  layers: Blob[];
  manifest: Manifest;
}

/** Pushes a config, `layerCount` random layers and an image manifest under `ref` (a tag, or its digest when omitted). */
export async function pushImage(client: RegistryClient, repo: string, ref?: string, layerCount = 1): Promise<PushedImage> {
  const config = makeConfig();
  const layers = Array.from({ length: layerCount }, () => makeBlob(512 + Math.floor(Math.random() * 512)));
  for (const blob of [config, ...layers]) await pushBlob(client, repo, blob);
  const manifest = makeImageManifest(
    config.descriptor,
    layers.map((l) => l.descriptor),
  );
  await pushManifest(client, repo, ref ?? manifest.descriptor.digest, manifest);
  return { config, layers, manifest };
}
