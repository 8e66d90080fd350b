import type { IncomingMessage } from 'node:http';
import type { Readable } from 'node:stream';
import PQueue from 'p-queue';
import type { Logger } from 'pino';
import type { Metrics } from '../metrics/metrics.js';
import { digestOf, digestParts, isDigest, type Digest } from '../oci/digest.js';
import { OciError } from '../oci/errors.js';
import { ACCEPT_ALL_MANIFESTS } from '../oci/media-types.js';
import { stripParameters } from '../oci/manifest.js';
import type { Descriptor, Page } from '../oci/types.js';
import type { Authenticator } from './authenticator.js';
import type { HttpTransport } from './http-transport.js';
import { readLimited } from './read-body.js';
import { rateLimitRemaining, unreachable, upstreamError, type UpstreamKind } from './upstream-errors.js';

/** What the mirror asks of an upstream registry. Errors are OciErrors (see upstream-errors.ts). */
export interface UpstreamClient {
  readonly name: string;
  headManifest(repo: string, ref: string): Promise<Descriptor>;
  getManifest(repo: string, ref: string): Promise<{ descriptor: Descriptor; body: Buffer }>;
  headBlob(repo: string, d: Digest): Promise<{ size: number }>;
  /** The body is a live stream; the concurrency slot is held until it ends or is destroyed. */
  getBlob(repo: string, d: Digest, signal?: AbortSignal): Promise<{ size?: number; body: Readable }>;
  listTags(repo: string, page: Page): Promise<string[]>;
  /** undefined when the upstream has no referrers API. */
  referrers(repo: string, subject: Digest, artifactType?: string): Promise<Descriptor[] | undefined>;
}

export interface HttpUpstreamClientOptions {
  name: string;
  baseUrl: string;
  transport: HttpTransport;
  auth: Authenticator;
  maxConcurrency: number;
  maxManifestBytes: number;
  metrics: Metrics;
  logger: Logger;
}

const LIST_LIMIT = 16 * 1024 * 1024;

/** An upstream registry over HTTP(S): token dance, redirects without credentials, bounded concurrency. */
export class HttpUpstreamClient implements UpstreamClient {
  readonly name: string;
  private readonly queue: PQueue;
  private readonly base: URL;

  constructor(private readonly o: HttpUpstreamClientOptions) {
    this.name = o.name;
    this.queue = new PQueue({ concurrency: o.maxConcurrency });
    this.base = new URL(o.baseUrl.endsWith('/') ? o.baseUrl : `${o.baseUrl}/`);
  }

  async headManifest(repo: string, ref: string): Promise<Descriptor> {
    const headers = { accept: ACCEPT_ALL_MANIFESTS.join(', ') };
    const descriptor = await this.call('HEAD', `${repo}/manifests/${ref}`, repo, 'manifest', headers, async (res) => {
      res.resume();
      const digest = res.headers['docker-content-digest'];
      const mediaType = stripParameters(res.headers['content-type']);
      const size = Number(res.headers['content-length']);
      if (typeof digest !== 'string' || !isDigest(digest) || !mediaType || !Number.isFinite(size)) return undefined;
      return { mediaType, digest, size };
    });
    // Registries that omit Docker-Content-Digest on HEAD: the digest needs the bytes.
    return descriptor ?? (await this.getManifest(repo, ref)).descriptor;
  }

  getManifest(repo: string, ref: string): Promise<{ descriptor: Descriptor; body: Buffer }> {
    const headers = { accept: ACCEPT_ALL_MANIFESTS.join(', ') };
    return this.call('GET', `${repo}/manifests/${ref}`, repo, 'manifest', headers, async (res) => {
      const body = await readLimited(res, this.o.maxManifestBytes);
      this.o.metrics.upstreamBytes.inc({ upstream: this.name }, body.length);
      const claimed = res.headers['docker-content-digest'];
      const algorithm = isDigest(ref) ? digestParts(ref).algorithm : typeof claimed === 'string' && isDigest(claimed) ? digestParts(claimed).algorithm : 'sha256';
      const digest = digestOf(body, algorithm);
      const expected = isDigest(ref) ? ref : typeof claimed === 'string' && isDigest(claimed) ? claimed : undefined;
      if (expected !== undefined && expected !== digest) {
        this.o.metrics.upstreamDigestMismatches.inc({ upstream: this.name });
        throw new OciError('DIGEST_INVALID', `manifest from upstream ${this.name} does not match its digest`, { detail: { expected, actual: digest } });
      }
      const mediaType = manifestMediaType(res.headers['content-type'], body);
      return { descriptor: { mediaType, digest, size: body.length }, body };
    });
  }

  headBlob(repo: string, d: Digest): Promise<{ size: number }> {
    return this.call('HEAD', `${repo}/blobs/${d}`, repo, 'blob', {}, async (res) => {
      res.resume();
      const size = Number(res.headers['content-length']);
      if (!Number.isFinite(size)) throw new OciError('UNAVAILABLE', `upstream ${this.name} sent no blob size`);
      return { size };
    });
  }

  async getBlob(repo: string, d: Digest, signal?: AbortSignal): Promise<{ size?: number; body: Readable }> {
    // The slot is released when the body ends, not when headers arrive: maxConcurrency bounds transfers.
    const release = await this.acquire();
    try {
      const res = await this.send('GET', `${repo}/blobs/${d}`, repo, 'blob', {}, signal);
      res.once('close', release);
      const length = Number(res.headers['content-length']);
      return Number.isFinite(length) ? { size: length, body: res } : { body: res };
    } catch (err) {
      release();
      throw err;
    }
  }

  listTags(repo: string, page: Page): Promise<string[]> {
    const query = new URLSearchParams();
    if (page.n !== undefined) query.set('n', String(page.n));
    if (page.last !== undefined) query.set('last', page.last);
    const suffix = query.size > 0 ? `?${query}` : '';
    return this.call('GET', `${repo}/tags/list${suffix}`, repo, 'tags', {}, async (res) => {
      const json = JSON.parse((await readLimited(res, LIST_LIMIT)).toString('utf8')) as { tags?: unknown };
      return Array.isArray(json.tags) ? json.tags.filter((t): t is string => typeof t === 'string') : [];
    });
  }

  async referrers(repo: string, subject: Digest, artifactType?: string): Promise<Descriptor[] | undefined> {
    const suffix = artifactType !== undefined ? `?${new URLSearchParams({ artifactType })}` : '';
    try {
      return await this.call('GET', `${repo}/referrers/${subject}${suffix}`, repo, 'referrers', { accept: 'application/vnd.oci.image.index.v1+json' }, async (res) => {
        const json = JSON.parse((await readLimited(res, LIST_LIMIT)).toString('utf8')) as { manifests?: unknown };
        return Array.isArray(json.manifests) ? (json.manifests as Descriptor[]) : [];
      });
    } catch (err) {
      if (err instanceof OciError && err.code === 'MANIFEST_UNKNOWN') return undefined;
      throw err;
    }
  }

  /** Runs one request and its body handling inside a concurrency slot. */
  private async call<T>(
    method: 'GET' | 'HEAD',
    path: string,
    repo: string,
    kind: UpstreamKind,
    headers: Record<string, string>,
    handle: (res: IncomingMessage) => Promise<T>,
  ): Promise<T> {
    const release = await this.acquire();
    const timer = this.o.metrics.upstreamDuration.startTimer({ upstream: this.name, kind });
    try {
      const res = await this.send(method, path, repo, kind, headers);
      try {
        return await handle(res);
      } catch (err) {
        res.destroy();
        if (err instanceof OciError) throw err;
        throw unreachable(this.name, err);
      }
    } finally {
      timer();
      release();
    }
  }

  /** One request with the token dance: at most one retry, after a 401 with a renewed token. */
  private async send(method: 'GET' | 'HEAD', path: string, repo: string, kind: UpstreamKind, headers: Record<string, string>, signal?: AbortSignal): Promise<IncomingMessage> {
    const url = new URL(`v2/${path}`, this.base);
    const scope = `repository:${repo}:pull`;
    let authorization = await this.o.auth.authorization(scope);
    for (let attempt = 0; ; attempt++) {
      const res = await this.attempt(method, url, headers, authorization, signal);
      if (res.statusCode === 401 && attempt === 0) {
        res.resume();
        const renewed = await this.o.auth.renew(res.headers['www-authenticate'], scope, authorization);
        if (renewed !== undefined) {
          authorization = renewed;
          continue;
        }
      }
      if ((res.statusCode ?? 0) >= 200 && (res.statusCode ?? 0) < 300) return res;
      res.resume();
      if (res.statusCode === 429) this.o.metrics.upstreamRateLimited.inc({ upstream: this.name });
      const err = upstreamError(this.name, kind, res);
      this.o.logger.debug({ upstream: this.name, method, path, status: res.statusCode }, 'upstream refused');
      throw err;
    }
  }

  private async attempt(method: 'GET' | 'HEAD', url: URL, headers: Record<string, string>, authorization: string | undefined, signal?: AbortSignal): Promise<IncomingMessage> {
    const all: Record<string, string> = { ...headers, 'user-agent': 'oci-registry-cache (pull-through)' };
    if (authorization !== undefined) all.authorization = authorization;
    let res: IncomingMessage;
    try {
      res = await this.o.transport.request({ method, url, headers: all, signal });
    } catch (err) {
      this.o.metrics.upstreamRequests.inc({ upstream: this.name, status: 'error' });
      throw unreachable(this.name, err);
    }
    this.o.metrics.upstreamRequests.inc({ upstream: this.name, status: String(res.statusCode) });
    const remaining = rateLimitRemaining(res);
    if (remaining !== undefined) this.o.metrics.upstreamRateLimitRemaining.set({ upstream: this.name }, remaining);
    return res;
  }

  private async acquire(): Promise<() => void> {
    let release!: () => void;
    const held = new Promise<void>((resolve) => {
      release = resolve;
    });
    await new Promise<void>((started) => {
      void this.queue.add(() => {
        started();
        return held;
      });
    });
    let done = false;
    return () => {
      if (!done) {
        done = true;
        release();
      }
    };
  }
}

/** Content-Type names the manifest's type; a generic or missing one falls back to the body's mediaType. */
function manifestMediaType(contentType: string | undefined, body: Buffer): string {
  const header = stripParameters(contentType);
  if (header && header !== 'application/json' && header !== 'text/plain') return header;
  try {
    const json = JSON.parse(body.toString('utf8')) as { mediaType?: unknown; manifests?: unknown };
    if (typeof json.mediaType === 'string') return json.mediaType;
    return Array.isArray(json.manifests) ? 'application/vnd.oci.image.index.v1+json' : 'application/vnd.oci.image.manifest.v1+json';
  } catch {
    return header ?? 'application/octet-stream';
  }
}
