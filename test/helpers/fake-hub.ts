import { randomBytes } from 'node:crypto';
import { createReadStream } from 'node:fs';
import { readFile, stat } from 'node:fs/promises';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import { Transform } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { setTimeout as sleep } from 'node:timers/promises';
import { sha256 } from './push.js';

/**
 * A Docker-Hub-like upstream as two real HTTP servers on loopback. The registry answers 401 with a
 * Bearer challenge, checks tokens from its own /token endpoint (scope and, when configured, Basic
 * credentials; short lifetimes) and redirects blob GET/HEAD with a 307 to a second "object store"
 * port that refuses requests carrying Authorization, as S3 does with presigned URLs. It counts its own
 * requests and can serve corrupted bytes, cut connections, 429s and 503s on demand.
 */

export interface FakeHubOptions {
  /** Basic credentials the token endpoint accepts. */
  users?: Record<string, string>;
  /** Refuse anonymous token requests. */
  requireCredentials?: boolean;
  /** expires_in sent with tokens (default 300). */
  tokenExpiresIn?: number;
  /** How long tokens are really accepted, in ms (default: expires_in). Shorter simulates early expiry. */
  tokenValidMs?: number;
  service?: string;
}

interface Manifest {
  mediaType: string;
  body: Buffer;
}

interface Blob {
  path?: string;
  bytes?: Buffer;
  size: number;
}

export interface HubRequest {
  server: 'hub' | 'blobs';
  method: string;
  path: string;
  authorization?: string;
}

export class FakeHub {
  readonly requests: HubRequest[] = [];
  readonly faults = {
    /** Digests of blobs and manifests served with a flipped byte. */
    corrupt: new Set<string>(),
    cut: new Set<string>(),
    /** Answer every registry request with 429. */
    rateLimit: false,
    /** Answer every registry request with 503. */
    unavailable: false,
    /** Delay per 64 KiB chunk of blob bodies, to keep a download in flight. */
    blobChunkDelayMs: 0,
  };
  /** Every token handed out, in order (tests check none of them reaches a log). */
  readonly issued: string[] = [];
  rateLimitRemaining = 100;
  /** Blob bodies being sent right now, and the most at once (checks per-upstream concurrency limits). */
  blobsInFlight = 0;
  maxBlobsInFlight = 0;
  private readonly repos = new Map<string, { tags: Map<string, string>; manifests: Map<string, Manifest> }>();
  private readonly blobs = new Map<string, Blob>();
  private readonly tokens = new Map<string, { repos: Set<string>; validUntil: number }>();
  private hub!: Server;
  private store!: Server;
  url = '';
  host = '';
  blobUrl = '';

  constructor(private readonly o: FakeHubOptions = {}) {}

  static async start(o: FakeHubOptions = {}): Promise<FakeHub> {
    const hub = new FakeHub(o);
    hub.hub = await listen((req, res) => hub.serveRegistry(req, res));
    hub.store = await listen((req, res) => hub.serveBlobStore(req, res));
    hub.url = `http://127.0.0.1:${(hub.hub.address() as AddressInfo).port}`;
    hub.host = hub.url.slice('http://'.length);
    hub.blobUrl = `http://127.0.0.1:${(hub.store.address() as AddressInfo).port}`;
    return hub;
  }

  get service(): string {
    return this.o.service ?? 'fake-hub.test';
  }

  /** Loads manifest `digest` (an image or an index, with its children and blobs) from an OCI layout folder. */
  async addFromLayout(layoutDir: string, repo: string, digest: string, tag?: string): Promise<void> {
    const path = blobPath(layoutDir, digest);
    const body = await readFile(path);
    const json = JSON.parse(body.toString('utf8')) as { mediaType: string; config?: { digest: string }; layers?: Array<{ digest: string }>; manifests?: Array<{ digest: string }> };
    for (const child of json.manifests ?? []) await this.addFromLayout(layoutDir, repo, child.digest);
    for (const d of [json.config?.digest, ...(json.layers ?? []).map((l) => l.digest)]) {
      if (d !== undefined) this.blobs.set(d, { path: blobPath(layoutDir, d), size: (await stat(blobPath(layoutDir, d))).size });
    }
    this.addManifest(repo, json.mediaType, body, tag);
  }

  addManifest(repo: string, mediaType: string, body: Buffer, tag?: string): string {
    const digest = sha256(body);
    const r = this.repo(repo);
    r.manifests.set(digest, { mediaType, body });
    if (tag !== undefined) r.tags.set(tag, digest);
    return digest;
  }

  addBlob(bytes: Buffer): string {
    const digest = sha256(bytes);
    this.blobs.set(digest, { bytes, size: bytes.length });
    return digest;
  }

  async addBlobFile(path: string, digest: string): Promise<void> {
    this.blobs.set(digest, { path, size: (await stat(path)).size });
  }

  moveTag(repo: string, tag: string, digest: string): void {
    this.repo(repo).tags.set(tag, digest);
  }

  /** Every token issued so far stops working (a token service restarted, keys rotated…). */
  revokeTokens(): void {
    this.tokens.clear();
  }

  count(filter: Partial<HubRequest> & { pathIncludes?: string }): number {
    return this.requests.filter(
      (r) =>
        (filter.server === undefined || r.server === filter.server) &&
        (filter.method === undefined || r.method === filter.method) &&
        (filter.path === undefined || r.path === filter.path) &&
        (filter.pathIncludes === undefined || r.path.includes(filter.pathIncludes)),
    ).length;
  }

  async stop(): Promise<void> {
    for (const s of [this.hub, this.store]) {
      s.closeAllConnections();
      await new Promise<void>((resolve) => s.close(() => resolve()));
    }
  }

  private repo(name: string) {
    let r = this.repos.get(name);
    if (!r) this.repos.set(name, (r = { tags: new Map(), manifests: new Map() }));
    return r;
  }

  private async serveRegistry(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const url = new URL(req.url ?? '/', this.url);
    this.requests.push({ server: 'hub', method: req.method ?? '', path: url.pathname, authorization: req.headers.authorization });
    if (url.pathname === '/token') return this.serveToken(req, res, url);
    if (this.faults.unavailable) return json(res, 503, { errors: [{ code: 'UNAVAILABLE', message: 'down for maintenance' }] });
    if (this.faults.rateLimit) {
      res.setHeader('ratelimit-remaining', '0;w=21600');
      res.setHeader('retry-after', '60');
      return json(res, 429, { errors: [{ code: 'TOOMANYREQUESTS', message: 'You have reached your pull rate limit' }] });
    }
    if (url.pathname === '/v2/' || url.pathname === '/v2') {
      if (!this.bearerRepos(req)) return this.challenge(res);
      return json(res, 200, {});
    }
    const m = /^\/v2\/(.+)\/(manifests|blobs|tags)\/(.+)$/.exec(url.pathname);
    if (!m) return json(res, 404, { errors: [{ code: 'NOT_FOUND', message: 'no route' }] });
    const [, name, kind, ref] = m as unknown as [string, string, string, string];
    const repos = this.bearerRepos(req);
    if (!repos?.has(name)) return this.challenge(res, name, repos !== undefined || req.headers.authorization !== undefined);
    const repo = this.repos.get(name);
    if (kind === 'tags') return json(res, repo ? 200 : 404, repo ? { name, tags: [...repo.tags.keys()].sort() } : { errors: [{ code: 'NAME_UNKNOWN' }] });
    if (kind === 'manifests') {
      const digest = ref.startsWith('sha256:') ? ref : repo?.tags.get(ref);
      const manifest = digest ? repo?.manifests.get(digest) : undefined;
      if (!manifest || !digest) return json(res, 404, { errors: [{ code: 'MANIFEST_UNKNOWN', message: 'manifest unknown' }] });
      const accept = String(req.headers.accept ?? '');
      if (manifest.mediaType.includes('vnd.oci') && accept !== '' && !accept.includes(manifest.mediaType) && !accept.includes('*/*')) {
        return json(res, 404, { errors: [{ code: 'MANIFEST_UNKNOWN', message: 'OCI manifest found, but accept header does not support OCI manifests' }] });
      }
      if (req.method === 'GET') this.rateLimitRemaining--;
      const body = this.faults.corrupt.has(digest) ? flipLast(manifest.body) : manifest.body;
      res.writeHead(200, {
        'content-type': manifest.mediaType,
        'docker-content-digest': digest,
        'content-length': manifest.body.length,
        'ratelimit-remaining': `${this.rateLimitRemaining};w=21600`,
      });
      res.end(req.method === 'HEAD' ? undefined : body);
      return;
    }
    if (!this.blobs.has(ref)) return json(res, 404, { errors: [{ code: 'BLOB_UNKNOWN', message: 'blob unknown' }] });
    res.writeHead(307, { location: `${this.blobUrl}/data/${ref}?X-Amz-Signature=${randomBytes(8).toString('hex')}`, 'content-length': 0 });
    res.end();
  }

  private serveToken(req: IncomingMessage, res: ServerResponse, url: URL): void {
    const scope = url.searchParams.get('scope') ?? '';
    const m = /^repository:([a-z0-9._/-]+):([a-z,*]+)$/.exec(scope);
    if (url.searchParams.get('service') !== this.service || (scope !== '' && !m)) return json(res, 400, { details: 'bad service or scope' });
    const auth = req.headers.authorization;
    if (auth !== undefined) {
      const [user, pass] = Buffer.from(auth.replace(/^Basic /, ''), 'base64').toString().split(':');
      if (!auth.startsWith('Basic ') || user === undefined || this.o.users?.[user] !== pass) return json(res, 401, { details: 'incorrect username or password' });
    } else if (this.o.requireCredentials) {
      return json(res, 401, { details: 'authentication required' });
    }
    const token = randomBytes(24).toString('hex');
    const expiresIn = this.o.tokenExpiresIn ?? 300;
    this.tokens.set(token, { repos: new Set(m ? [m[1]!] : []), validUntil: Date.now() + (this.o.tokenValidMs ?? expiresIn * 1000) });
    this.issued.push(token);
    json(res, 200, { token, access_token: token, expires_in: expiresIn, issued_at: new Date().toISOString() });
  }

  private bearerRepos(req: IncomingMessage): Set<string> | undefined {
    const auth = req.headers.authorization;
    if (!auth?.startsWith('Bearer ')) return undefined;
    const t = this.tokens.get(auth.slice('Bearer '.length));
    return t && t.validUntil > Date.now() ? t.repos : undefined;
  }

  private challenge(res: ServerResponse, repo?: string, badToken = false): void {
    let value = `Bearer realm="${this.url}/token",service="${this.service}"`;
    if (repo !== undefined) value += `,scope="repository:${repo}:pull"`;
    if (badToken) value += ',error="invalid_token"';
    res.setHeader('www-authenticate', value);
    json(res, 401, { errors: [{ code: 'UNAUTHORIZED', message: 'authentication required' }] });
  }

  private async serveBlobStore(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const url = new URL(req.url ?? '/', this.blobUrl);
    this.requests.push({ server: 'blobs', method: req.method ?? '', path: url.pathname, authorization: req.headers.authorization });
    if (req.headers.authorization !== undefined) {
      return json(res, 400, { code: 'InvalidArgument', message: 'Only one auth mechanism allowed' });
    }
    const digest = url.pathname.replace(/^\/data\//, '');
    const blob = this.blobs.get(digest);
    if (!blob || !url.searchParams.has('X-Amz-Signature')) return json(res, 403, { code: 'AccessDenied' });
    res.writeHead(200, { 'content-type': 'application/octet-stream', 'content-length': blob.size });
    if (req.method === 'HEAD') return void res.end();
    const source = blob.path ? createReadStream(blob.path, { highWaterMark: 64 * 1024 }) : chunked(blob.bytes!);
    const corrupt = this.faults.corrupt.has(digest);
    const cutAt = this.faults.cut.has(digest) ? Math.floor(blob.size / 2) : Infinity;
    const delay = this.faults.blobChunkDelayMs;
    let sent = 0;
    this.maxBlobsInFlight = Math.max(this.maxBlobsInFlight, ++this.blobsInFlight);
    res.once('close', () => this.blobsInFlight--);
    const faulty = new Transform({
      transform(chunk: Buffer, _enc, done) {
        const out = corrupt && sent === 0 ? Buffer.from(chunk) : chunk;
        if (corrupt && sent === 0) out[0] = out[0]! ^ 0xff;
        sent += out.length;
        if (sent > cutAt) {
          // Half the body, then a dead connection: what a proxy timeout or reset looks like.
          res.write(out.subarray(0, out.length - (sent - cutAt)), () => res.socket?.destroy());
          return;
        }
        if (delay > 0) setTimeout(() => done(null, out), delay);
        else done(null, out);
      },
    });
    await pipeline(source, faulty, res).catch(() => undefined);
  }
}

function flipLast(bytes: Buffer): Buffer {
  const out = Buffer.from(bytes);
  out[out.length - 1] = out[out.length - 1]! ^ 0x01;
  return out;
}

function chunked(bytes: Buffer): AsyncIterable<Buffer> {
  return (async function* () {
    for (let i = 0; i < bytes.length; i += 64 * 1024) {
      yield bytes.subarray(i, i + 64 * 1024);
      await sleep(0);
    }
  })();
}

function listen(handler: (req: IncomingMessage, res: ServerResponse) => Promise<void> | void): Promise<Server> {
  const server = createServer((req, res) => {
    Promise.resolve(handler(req, res)).catch(() => res.destroy());
  });
  return new Promise((resolve) => server.listen(0, '127.0.0.1', () => resolve(server)));
}

function json(res: ServerResponse, status: number, body: unknown): void {
  const text = JSON.stringify(body);
  res.writeHead(status, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(text) });
  res.end(text);
}

function blobPath(dir: string, digest: string): string {
  const [algorithm, hex] = digest.split(':');
  return join(dir, 'blobs', algorithm!, hex!);
}
