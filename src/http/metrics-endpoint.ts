import { createHash, timingSafeEqual } from 'node:crypto';
import type { RequestHandler } from 'express';

export interface MetricsEndpointOptions {
  /** The exposition text and its content type, produced fresh for each scrape. */
  render(): Promise<{ contentType: string; body: string }>;
  /** The route label for these requests (the configured path). */
  route: string;
  bearerToken?: string;
}

/** GET <metrics.path>: the Prometheus text exposition, optionally behind a static bearer token. */
export function metricsEndpoint(options: MetricsEndpointOptions): RequestHandler {
  // Compare hashes so the comparison is constant-time whatever the length of what was sent.
  const expected = options.bearerToken === undefined ? undefined : sha256(options.bearerToken);
  return async (req, res, next) => {
    res.locals.route = options.route;
    if (expected) {
      const match = /^Bearer\s+(\S+)\s*$/i.exec(req.headers.authorization ?? '');
      if (!match || !timingSafeEqual(sha256(match[1]!), expected)) {
        res.status(401).setHeader('WWW-Authenticate', 'Bearer realm="metrics"').type('text/plain').end('unauthorized\n');
        return;
      }
    }
    try {
      const { contentType, body } = await options.render();
      res.status(200).setHeader('Cache-Control', 'no-store').type(contentType).end(body);
    } catch (err) {
      next(err);
    }
  };
}

function sha256(text: string): Buffer {
  return createHash('sha256').update(text).digest();
}
