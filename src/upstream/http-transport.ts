import { Agent as HttpAgent, request as httpRequest, type IncomingMessage, type OutgoingHttpHeaders } from 'node:http';
import { Agent as HttpsAgent, request as httpsRequest } from 'node:https';

export interface HttpCall {
  method: 'GET' | 'HEAD';
  url: URL;
  headers: OutgoingHttpHeaders;
  signal?: AbortSignal;
}

const MAX_REDIRECTS = 5;
const REDIRECTS = new Set([301, 302, 303, 307, 308]);

/**
 * node:http requests to one upstream with keep-alive pools. Bodies stay streams (a 1 GiB blob never
 * sits in memory). Redirects are followed here, and the Authorization header is dropped as soon as a
 * hop leaves the upstream's origin: blob storage behind a 307 (S3, a CDN) must not receive the
 * upstream's credentials, and S3 refuses presigned URLs that carry one anyway.
 */
export class HttpTransport {
  private readonly http: HttpAgent;
  private readonly https: HttpsAgent;

  constructor(
    maxSockets: number,
    private readonly timeoutMs: number,
  ) {
    this.http = new HttpAgent({ keepAlive: true, maxSockets });
    this.https = new HttpsAgent({ keepAlive: true, maxSockets });
  }

  /** Resolves with the final response (status ≥ 200, not a redirect unless too many hops). */
  async request(call: HttpCall): Promise<IncomingMessage> {
    const origin = call.url.origin;
    let url = call.url;
    let method = call.method;
    for (let hop = 0; ; hop++) {
      const headers: OutgoingHttpHeaders = { ...call.headers };
      if (url.origin !== origin) delete headers.authorization;
      const res = await this.once(method, url, headers, call.signal);
      const location = res.headers.location;
      if (!REDIRECTS.has(res.statusCode ?? 0) || location === undefined || hop >= MAX_REDIRECTS) return res;
      res.resume();
      url = new URL(location, url);
      if (res.statusCode === 303 && method !== 'HEAD') method = 'GET';
    }
  }

  close(): void {
    this.http.destroy();
    this.https.destroy();
  }

  private once(method: string, url: URL, headers: OutgoingHttpHeaders, signal?: AbortSignal): Promise<IncomingMessage> {
    const secure = url.protocol === 'https:';
    const send = secure ? httpsRequest : httpRequest;
    return new Promise((resolve, reject) => {
      const req = send(url, { method, headers, agent: secure ? this.https : this.http, signal });
      // Covers connect, waiting for headers and silences inside the body: the socket's idle timeout.
      req.setTimeout(this.timeoutMs, () => req.destroy(Object.assign(new Error('upstream timed out'), { code: 'ETIMEDOUT' })));
      req.once('response', resolve);
      req.once('error', reject);
      req.end();
    });
  }
}
