import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { Writable } from 'node:stream';
import { pino, type Logger } from 'pino';
import { REDACTED_PATHS } from '../../src/log.js';
import type { Clock } from '../../src/oci/types.js';
import type { RegistryOverrides } from '../../src/app.js';
import { DOCKER_LIST, DOCKER_MANIFEST, OCI_INDEX, OCI_MANIFEST, sha256 } from './push.js';
import { startRegistry, type RunningRegistry } from './registry.js';

/** A clock tests move by hand, so TTL and token-expiry tests run instantly. */
export class ManualClock implements Clock {
  constructor(private t = Date.now()) {}
  now(): number {
    return this.t;
  }
  advance(ms: number): void {
    this.t += ms;
  }
}

/** A pino logger at trace level writing into memory, with the app's redaction rules. */
export function captureLogger(): { logger: Logger; text(): string } {
  const lines: string[] = [];
  const sink = new Writable({
    write(chunk: Buffer, _enc, done) {
      lines.push(chunk.toString('utf8'));
      done();
    },
  });
  const logger = pino({ level: 'trace', redact: { paths: REDACTED_PATHS, censor: '[redacted]' } }, sink);
  return { logger, text: () => lines.join('') };
}

/** Our registry in mirror mode in front of `upstreamUrl` (Docker Hub rules, prefix docker.io/, default). */
export async function startMirror(
  upstreamUrl: string,
  upstream: Record<string, unknown> = {},
  overrides: RegistryOverrides & { dataDir?: string; keepData?: boolean } = {},
  config: Record<string, unknown> = {},
): Promise<RunningRegistry> {
  return startRegistry(
    { ...config, upstreams: [{ name: 'hub', url: upstreamUrl, prefix: 'docker.io/', default: true, dockerHub: true, ...upstream }] },
    overrides,
  );
}

export interface PulledImage {
  manifestDigest: string;
  /** digest → bytes of every manifest and blob fetched. */
  contents: Map<string, Buffer>;
}

const ACCEPT = [OCI_INDEX, DOCKER_LIST, OCI_MANIFEST, DOCKER_MANIFEST].join(', ');

/** Pulls an image (and, for an index, every child) the way a client does: manifest, then blobs. */
export async function pullImage(base: string, name: string, ref: string, headers: Record<string, string> = {}): Promise<PulledImage> {
  const contents = new Map<string, Buffer>();
  const top = await fetchManifest(base, name, ref, headers, contents);
  return { manifestDigest: top, contents };
}

async function fetchManifest(base: string, name: string, ref: string, headers: Record<string, string>, out: Map<string, Buffer>): Promise<string> {
  const res = await fetch(`${base}/v2/${name}/manifests/${ref}`, { headers: { accept: ACCEPT, ...headers } });
  const body = Buffer.from(await res.arrayBuffer());
  if (res.status !== 200) throw new Error(`manifest ${name}:${ref} → ${res.status} ${body.toString()}`);
  const digest = sha256(body);
  out.set(digest, body);
  const json = JSON.parse(body.toString()) as { config?: { digest: string }; layers?: Array<{ digest: string }>; manifests?: Array<{ digest: string }> };
  for (const child of json.manifests ?? []) await fetchManifest(base, name, child.digest, headers, out);
  for (const d of [json.config?.digest, ...(json.layers ?? []).map((l) => l.digest)]) {
    if (d === undefined) continue;
    const blob = await fetch(`${base}/v2/${name}/blobs/${d}`, { headers });
    const bytes = Buffer.from(await blob.arrayBuffer());
    if (blob.status !== 200) throw new Error(`blob ${d} → ${blob.status} ${bytes.toString().slice(0, 200)}`);
    if (sha256(bytes) !== d) throw new Error(`blob ${d} came back with digest ${sha256(bytes)}`);
    out.set(d, bytes);
  }
  return digest;
}

/**
 * Waits until the mirror has committed these blobs to its store. Clients receive a blob's last byte as
 * soon as its digest is verified; the fsync and rename into the store finish a moment later.
 */
export async function waitForCachedBlobs(dataDir: string, digests: readonly string[], ms = 10_000): Promise<void> {
  const paths = digests.map((d) => join(dataDir, 'blobs', 'sha256', d.slice(7, 9), d.slice(7)));
  const deadline = Date.now() + ms;
  while (!paths.every((p) => existsSync(p))) {
    if (Date.now() > deadline) throw new Error(`blobs not committed: ${paths.filter((p) => !existsSync(p)).join(', ')}`);
    await new Promise((r) => setTimeout(r, 20));
  }
}
