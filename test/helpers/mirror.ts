import { existsSync } from 'node:fs';
import { Writable } from 'node:stream';
import { pino, type Logger } from 'pino';
import { REDACTED_PATHS } from '../../src/log.js';
import type { Clock } from '../../src/oci/types.js';
import type { RegistryOverrides } from '../../src/app.js';
import { blobPath } from './push.js';
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

/**
 * Waits until the mirror has committed these blobs to its store. Clients receive a blob's last byte as
 * soon as its digest is verified; the fsync and rename into the store finish a moment later.
 */
export async function waitForCachedBlobs(dataDir: string, digests: readonly string[], ms = 10_000): Promise<void> {
  const paths = digests.map((d) => blobPath(dataDir, d));
  const deadline = Date.now() + ms;
  while (!paths.every((p) => existsSync(p))) {
    if (Date.now() > deadline) throw new Error(`blobs not committed: ${paths.filter((p) => !existsSync(p)).join(', ')}`);
    await new Promise((r) => setTimeout(r, 20));
  }
}
