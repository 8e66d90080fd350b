import type { RequestHandler, Response } from 'express';
import type { Metrics } from '../metrics/metrics.js';

/** Label for requests no route claimed: one fixed value, so random paths cannot grow the label set. */
export const UNMATCHED_ROUTE = 'unmatched';

// Node's parser accepts ~35 methods; the registry serves these, everything else shares one label.
const METHODS = new Set(['GET', 'HEAD', 'POST', 'PUT', 'PATCH', 'DELETE', 'OPTIONS']);

// Blob upload routes (route.ts patterns) and the methods that write: failures there are upload failures.
const UPLOAD_ROUTES = new Set(['/v2/:name/blobs/uploads/', '/v2/:name/blobs/uploads/:uuid']);
const UPLOAD_METHODS = new Set(['POST', 'PATCH', 'PUT']);
// Access-control answers are counted by the auth metrics; a push's first unauthenticated POST is no failure.
const NOT_UPLOAD_FAILURES = new Set(['UNAUTHORIZED', 'DENIED']);

type Chunk = string | Buffer | Uint8Array;
type WriteFn = (chunk: Chunk, ...rest: unknown[]) => boolean;
type EndFn = (...args: unknown[]) => Response;

/**
 * Counts every request by method, route pattern (res.locals.route, set by the router; never the
 * repository name) and status; observes duration; tracks in-flight requests; counts body bytes.
 * Received bytes are counted by wrapping req.push (what the HTTP parser calls with each body chunk)
 * rather than listening for 'data', which would start the body flowing before a handler pipes it.
 * Sent bytes are counted by wrapping res.write/res.end, so they are payload bytes, not headers.
 */
export function metricsMiddleware(metrics: Metrics): RequestHandler {
  // Label-bound children by "method route status": prom-client hashes the label object on every
  // inc/observe otherwise, a visible share of a manifest GET. Bounded: methods, route patterns and
  // status codes are all fixed sets.
  const children = new Map<string, { requests: { inc(): void }; duration: { observe(v: number): void } }>();
  const child = (method: string, route: string, status: string) => {
    const key = `${method} ${route} ${status}`;
    let c = children.get(key);
    if (!c) {
      c = { requests: metrics.httpRequests.labels({ method, route, status }), duration: metrics.httpDuration.labels({ method, route }) };
      children.set(key, c);
    }
    return c;
  };
  return (req, res, next) => {
    const started = process.hrtime.bigint();
    metrics.httpInFlight.inc();
    let received = 0;
    let sent = 0;

    // Only requests that may carry a body get their parser feed wrapped.
    if (req.headers['content-length'] !== undefined || req.headers['transfer-encoding'] !== undefined) {
      const push = req.push;
      req.push = function countedPush(this: typeof req, chunk: unknown, encoding?: BufferEncoding): boolean {
        if (chunk !== null && chunk !== undefined) received += byteLength(chunk, encoding);
        return push.call(this, chunk, encoding);
      };
    }
    const write = res.write as unknown as WriteFn;
    res.write = function countedWrite(this: Response, chunk: Chunk, ...rest: unknown[]): boolean {
      sent += byteLength(chunk, rest[0]);
      return write.call(this, chunk, ...rest);
    } as unknown as Response['write'];
    const end = res.end as unknown as EndFn;
    res.end = function countedEnd(this: Response, ...args: unknown[]): Response {
      const [chunk, encoding] = args;
      if (chunk !== undefined && chunk !== null && typeof chunk !== 'function') sent += byteLength(chunk, encoding);
      return end.apply(this, args);
    } as unknown as Response['end'];

    res.once('close', () => {
      metrics.httpInFlight.dec();
      const route = routeLabel(req.route as unknown, res.locals.route);
      const method = METHODS.has(req.method) ? req.method : 'OTHER';
      const seconds = Number(process.hrtime.bigint() - started) / 1e9;
      const c = child(method, route, String(res.statusCode));
      c.requests.inc();
      c.duration.observe(seconds);
      if (received > 0) metrics.httpReceivedBytes.inc({ route }, received);
      if (sent > 0) metrics.httpSentBytes.inc({ route }, sent);
      if (UPLOAD_ROUTES.has(route) && UPLOAD_METHODS.has(method)) {
        const reason = uploadFailure(res);
        if (reason) metrics.uploadFailures.inc({ reason });
      }
    });
    next();
  };
}

/** The registry router's pattern, else the pattern of an express route (e.g. /healthz), else the fixed fallback. */
function routeLabel(expressRoute: unknown, registryRoute: unknown): string {
  if (typeof registryRoute === 'string') return registryRoute;
  const path = (expressRoute as { path?: unknown } | undefined)?.path;
  return typeof path === 'string' ? path : UNMATCHED_ROUTE;
}

/** The error code of a failed upload request, 'aborted' when the client hung up; undefined on success. */
function uploadFailure(res: Response): string | undefined {
  const code = typeof res.locals.errorCode === 'string' ? res.locals.errorCode : undefined;
  if (code) return NOT_UPLOAD_FAILURES.has(code) ? undefined : code;
  if (!res.writableFinished) return 'aborted';
  return res.statusCode >= 400 ? `http_${res.statusCode}` : undefined;
}

function byteLength(chunk: unknown, encoding: unknown): number {
  if (typeof chunk === 'string') return Buffer.byteLength(chunk, typeof encoding === 'string' ? (encoding as BufferEncoding) : 'utf8');
  if (chunk instanceof Uint8Array) return chunk.byteLength;
  return 0;
}
