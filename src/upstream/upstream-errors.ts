import type { IncomingMessage } from 'node:http';
import { OciError, type ErrorCode } from '../oci/errors.js';

export type UpstreamKind = 'manifest' | 'blob' | 'tags' | 'referrers';

const NOT_FOUND: Record<UpstreamKind, ErrorCode> = {
  manifest: 'MANIFEST_UNKNOWN',
  blob: 'BLOB_UNKNOWN',
  tags: 'NAME_UNKNOWN',
  referrers: 'MANIFEST_UNKNOWN',
};

/**
 * Translates an upstream's non-success answer into our codes: 404 → *_UNKNOWN, 429 → TOOMANYREQUESTS
 * (with its Retry-After), 401/403 after the token dance → DENIED, anything else → UNAVAILABLE, which
 * lets the mirror fall back to what it has cached.
 */
export function upstreamError(upstream: string, kind: UpstreamKind, res: IncomingMessage): OciError {
  const status = res.statusCode ?? 0;
  if (status === 404) return new OciError(NOT_FOUND[kind], `${kind} not found on upstream ${upstream}`);
  if (status === 429) {
    const retryAfter = res.headers['retry-after'];
    return new OciError('TOOMANYREQUESTS', `upstream ${upstream} is rate limiting pulls; retry later`, {
      headers: typeof retryAfter === 'string' ? { 'Retry-After': retryAfter } : {},
    });
  }
  if (status === 401 || status === 403) return new OciError('DENIED', `upstream ${upstream} refused access to this repository`);
  return new OciError('UNAVAILABLE', `upstream ${upstream} answered ${status}`);
}

export function unreachable(upstream: string, err: unknown): OciError {
  const code = (err as NodeJS.ErrnoException | undefined)?.code ?? 'error';
  return new OciError('UNAVAILABLE', `upstream ${upstream} unreachable (${code})`, { cause: err });
}

/** Docker Hub's `ratelimit-remaining: 76;w=21600` → 76. */
export function rateLimitRemaining(res: IncomingMessage): number | undefined {
  const value = res.headers['ratelimit-remaining'];
  if (typeof value !== 'string') return undefined;
  const n = Number(value.split(';')[0]);
  return Number.isFinite(n) ? n : undefined;
}
