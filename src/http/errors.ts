import type { ErrorRequestHandler, Response } from 'express';
import type { Logger } from 'pino';
import { OciError, isNoSpaceError } from '../oci/errors.js';

/** The one place that turns errors into responses: status, spec JSON body, headers; HEAD gets no body. */
export function errorHandler(log: Logger, hooks: { onStoreFull?: () => void } = {}): ErrorRequestHandler {
  return (err: unknown, req, res, _next) => {
    const oci = toOciError(err);
    if (oci.code === 'UNKNOWN') log.error({ err, reqId: res.locals.reqId }, 'unhandled error');
    if (oci.status === 507) {
      hooks.onStoreFull?.();
      log.error({ reqId: res.locals.reqId, method: req.method, err: (err as Error).message }, 'write failed: the data filesystem is full');
    }
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
  const e = err as { type?: string; status?: number; code?: string; expose?: boolean } | undefined;
  // Client went away mid-body or sent something express could not parse.
  if (e?.code === 'ECONNRESET' || e?.code === 'ERR_STREAM_PREMATURE_CLOSE') {
    return new OciError('BLOB_UPLOAD_INVALID', 'request body ended early');
  }
  const parser = bodyParserError(e);
  if (parser) return parser;
  if (isNoSpaceError(err)) return storeFull();
  return new OciError('UNKNOWN', 'internal server error');
}

/**
 * A full disk answers 507 Insufficient Storage, not 503 + Retry-After: a full disk is not transient on
 * a client's retry timescale, and clients retry 503s automatically (re-sending whole layers into the
 * full disk); 507 is the status defined for "cannot store this representation", and the client stops
 * with the message. /readyz turns not-ready before this happens (storage.minFreeBytes), and reads go on.
 */
function storeFull(): OciError {
  return new OciError('UNAVAILABLE', 'registry storage is full (no space left on device): nothing was stored; retry once space is freed', { status: 507 });
}

/**
 * body-parser (express.urlencoded/json/raw/text) errors carry their own 4xx status and a `type` such as
 * entity.too.large, parameters.too.many, charset.unsupported, encoding.unsupported or entity.parse.failed:
 * the client's fault, answered with that status and a spec body, never as a 500 with a stack trace.
 */
function bodyParserError(e: { type?: string; status?: number; expose?: boolean } | undefined): OciError | undefined {
  // A corrupt gzip/deflate body comes as an http-errors 400 (expose: true) without a type.
  if (typeof e?.status !== 'number' || e.status < 400 || e.status > 499 || (typeof e.type !== 'string' && e.expose !== true)) return undefined;
  const message = (e.type !== undefined && BODY_ERRORS[e.type]) || 'malformed request body';
  if (e.status === 413) return new OciError('SIZE_INVALID', message, { status: 413 });
  return new OciError('UNSUPPORTED', message, { status: e.status === 415 ? 415 : 400 });
}

const BODY_ERRORS: Record<string, string> = {
  'entity.too.large': 'request body too large',
  'parameters.too.many': 'too many form parameters',
  'charset.unsupported': 'unsupported charset: send utf-8',
  'encoding.unsupported': 'unsupported Content-Encoding',
  'entity.parse.failed': 'malformed request body',
  'entity.verify.failed': 'malformed request body',
  'request.aborted': 'request body ended early',
  'request.size.invalid': 'request body shorter or longer than its Content-Length',
};
