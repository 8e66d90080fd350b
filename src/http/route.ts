import { OciError } from '../oci/errors.js';
import { parseName } from '../oci/names.js';

/** Sent with every /v2/ answer, as Distribution does. */
export const API_VERSION_HEADER = ['Docker-Distribution-API-Version', 'registry/2.0'] as const;

export type RouteKind = 'base' | 'catalog' | 'manifest' | 'uploadStart' | 'upload' | 'blob' | 'tags' | 'referrers';

/** A matched registry route. `pattern` is the label used in logs and metrics (never the name). */
export interface RouteMatch {
  kind: RouteKind;
  pattern: string;
  name?: string;
  /** Tag, digest or upload id, still unvalidated. */
  ref?: string;
}

const ROUTES: ReadonlyArray<{ kind: RouteKind; pattern: string; re: RegExp }> = [
  { kind: 'manifest', pattern: '/v2/:name/manifests/:reference', re: /^\/v2\/(.+)\/manifests\/([^/]+)$/ },
  { kind: 'uploadStart', pattern: '/v2/:name/blobs/uploads/', re: /^\/v2\/(.+)\/blobs\/uploads\/?$/ },
  { kind: 'upload', pattern: '/v2/:name/blobs/uploads/:uuid', re: /^\/v2\/(.+)\/blobs\/uploads\/([^/]+)$/ },
  { kind: 'blob', pattern: '/v2/:name/blobs/:digest', re: /^\/v2\/(.+)\/blobs\/([^/]+)$/ },
  { kind: 'tags', pattern: '/v2/:name/tags/list', re: /^\/v2\/(.+)\/tags\/list$/ },
  { kind: 'referrers', pattern: '/v2/:name/referrers/:digest', re: /^\/v2\/(.+)\/referrers\/([^/]+)$/ },
];

/**
 * Matches a /v2 path; undefined when it is no registry route. Invalid names throw NAME_INVALID.
 * Routes match the raw path and each part is decoded afterwards, so an encoded '/' (%2F) inside a
 * reference or upload id cannot turn it into extra path segments and change which route matches.
 */
export function matchRoute(rawPath: string): RouteMatch | undefined {
  if (rawPath === '/v2' || rawPath === '/v2/') return { kind: 'base', pattern: '/v2/' };
  if (rawPath === '/v2/_catalog') return { kind: 'catalog', pattern: '/v2/_catalog' };
  if (!rawPath.startsWith('/v2/')) return undefined;
  for (const route of ROUTES) {
    const m = route.re.exec(rawPath);
    if (m) return { kind: route.kind, pattern: route.pattern, name: parseName(decode(m[1]!)), ref: m[2] === undefined ? undefined : decode(m[2]) };
  }
  return undefined;
}

function decode(part: string): string {
  try {
    return decodeURIComponent(part);
  } catch {
    throw new OciError('NAME_INVALID', 'malformed path encoding');
  }
}
