import type { Request } from 'express';

/**
 * Where a client reached the registry, for token realms and page links, using only what is safe:
 * - `server.publicUrl` when set (the production answer: nothing in the request can change it);
 * - else the scheme and host of the request as express reports them: `X-Forwarded-Proto`/`-Host` count only
 *   when `server.trustProxy` trusts the peer that sent them (express `trust proxy`), else the scheme is the
 *   socket's own (http, or https on a TLS socket) and the host is the Host header;
 * - a host that is not a plain `name[:port]`, `a.b.c.d[:port]` or `[v6][:port]` is replaced by the address the
 *   request arrived on, so nothing odd (quotes, commas, userinfo, paths) can reach a challenge header.
 */
export function requestBaseUrl(req: Request, publicUrl?: string): string {
  if (publicUrl) return publicUrl.replace(/\/+$/, '');
  const proto = req.protocol === 'https' ? 'https' : 'http';
  const host = req.host;
  if (typeof host === 'string' && HOST.test(host)) return `${proto}://${host}`;
  return `${proto}://${localAddress(req)}`;
}

/** The client's address: the socket peer, or with `server.trustProxy` the address the trusted proxy names. */
export function clientAddress(req: Request): string | undefined {
  return req.ip ?? req.socket.remoteAddress;
}

const HOST = /^(?:[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?(?:\.[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?)*|\[[0-9A-Fa-f:.]+\])(?::\d{1,5})?$/;

function localAddress(req: Request): string {
  const address = (req.socket.localAddress ?? '127.0.0.1').replace(/^::ffff:/, '');
  return `${address.includes(':') ? `[${address}]` : address}:${req.socket.localPort ?? 80}`;
}
