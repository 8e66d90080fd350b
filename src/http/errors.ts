import type { ErrorRequestHandler, Response } from 'express';
import type { Logger } from 'pino';
import { OciError } from '../oci/errors.js';

/** The one place that turns errors into responses: status, spec JSON body, headers; HEAD gets no body. */
export function errorHandler(log: Logger): ErrorRequestHandler {
  return (err: unknown, req, res, _next) => {
    const oci = toOciError(err);
    if (oci.code === 'UNKNOWN') log.error({ err, reqId: res.locals.reqId }, 'unhandled error');
    res.locals.errorCode = oci.code;
    // A request stream destroyed before its end leaves the rest of its body in the connection, where
    // the next keep-alive request could never be parsed: hang up after this answer. (A body merely
    // unread is drained by node:http itself, and the connection stays usable.)
    if (req.destroyed && !req.complete && !res.headersSent) res.setHeader('Connection', 'close');
    sendError(res, oci, req.method === 'HEAD');
  };
}

export function sendError(res: Response, err: OciError, head = false): void {
  if (res.headersSent) {
    res.destroy();
    return;
  }
  for (const [k, v] of Object.entries(err.headers)) res.setHeader(k, v);
  const body = JSON.stringify(err.toBody());
  res.status(err.status).type('application/json').setHeader('Content-Length', Buffer.byteLength(body));
  if (head) res.end();
  else res.end(body);
}

export function toOciError(err: unknown): OciError {
  if (err instanceof OciError) return err;
  const e = err as { type?: string; status?: number; code?: string } | undefined;
  // Client went away mid-body or sent something express could not parse.
  if (e?.code === 'ECONNRESET' || e?.code === 'ERR_STREAM_PREMATURE_CLOSE') {
    return new OciError('BLOB_UPLOAD_INVALID', 'request body ended early');
  }
  return new OciError('UNKNOWN', 'internal server error');
}
