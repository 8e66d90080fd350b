import type { IncomingMessage, RequestListener, ServerResponse } from 'node:http';
import type { Authorizer } from '../auth/authorizer.js';
import type { Digest } from '../oci/digest.js';
import { parseAccept } from '../oci/media-types.js';
import type { ManifestResult, RepositoryResolver } from '../registry/repository.js';
import { setManifestHeaders } from './manifest-headers.js';
import { API_VERSION_HEADER, matchRoute } from './route.js';

/**
 * What the lane runs before answering: the request log and metrics middlewares that express runs. They
 * read only Node's own request and response (plus res.locals, which the lane sets), so they run as is.
 */
export type Instrument = (req: IncomingMessage, res: ServerResponse, next: () => void) => void;

export interface HotManifestDeps {
  resolver: RepositoryResolver;
  authorizer: Authorizer;
  downloads?: { record(repo: string, digest: Digest): void };
  instruments: readonly Instrument[];
}

const noop = () => undefined;

/**
 * The registry's hottest request, a manifest GET or HEAD whose tag, record and bytes are all in memory
 * and whose caller is allowed without I/O, answered on Node's own request and response. Everything
 * else (a miss, a query string, an error to report, credentials that need checking) goes to the express
 * app, which gives the same answer more slowly: express's routing and per-request setup cost about as
 * much as the whole answer. Headers, metrics, request log and download counts are the same either way.
 */
export function hotManifestLane(deps: HotManifestDeps, fallback: RequestListener): RequestListener {
  const accepts = new AcceptCache();
  return (req, res) => {
    const hit = lookup(req, deps, accepts);
    if (!hit) return void fallback(req, res);
    (res as ServerResponse & { locals: Record<string, unknown> }).locals = { route: hit.route, subject: hit.subject };
    for (const instrument of deps.instruments) instrument(req, res, noop);
    const { descriptor, body } = hit.result;
    res.setHeader(...API_VERSION_HEADER);
    setManifestHeaders(res, { ...descriptor, size: body.length });
    res.statusCode = 200;
    if (req.method === 'HEAD') return void res.end();
    res.end(body);
    deps.downloads?.record(hit.repo, descriptor.digest);
  };
}

interface Hit {
  /** The route pattern, the label logs and metrics use. */
  route: string;
  repo: string;
  subject: string | null;
  result: ManifestResult;
}

/** The answer when memory holds all of it; undefined sends the request the slow way. Side-effect free. */
function lookup(req: IncomingMessage, deps: HotManifestDeps, accepts: AcceptCache): Hit | undefined {
  const url = req.url;
  if ((req.method !== 'GET' && req.method !== 'HEAD') || !url || !url.startsWith('/v2/') || url.includes('?')) return undefined;
  if (!url.includes('/manifests/')) return undefined;
  try {
    const match = matchRoute(url);
    if (match?.kind !== 'manifest' || match.name === undefined || match.ref === undefined) return undefined;
    const grant = deps.authorizer.authorizeFromMemory?.(req.headers.authorization, [{ type: 'repository', name: match.name, actions: ['pull'] }]);
    if (!grant) return undefined;
    const repository = deps.resolver.resolve(match.name);
    const result = repository.peekManifest?.(match.ref, accepts.get(req.headers.accept));
    return result && { route: match.pattern, repo: repository.name, subject: grant.subject, result };
  } catch {
    return undefined; // an invalid name: express answers it with the spec's error
  }
}

/** Parsed Accept headers: clients send a handful of distinct ones, so parse each once. */
class AcceptCache {
  private readonly parsed = new Map<string, string[]>();

  get(header: string | undefined): readonly string[] {
    if (header === undefined) return [];
    let list = this.parsed.get(header);
    if (!list) {
      list = parseAccept(header);
      if (this.parsed.size >= 256) this.parsed.clear();
      this.parsed.set(header, list);
    }
    return list;
  }
}
