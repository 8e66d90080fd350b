import { randomUUID } from 'node:crypto';
import type { RequestHandler } from 'express';
import type { Logger } from 'pino';

/** One JSON line per request: id, method, route pattern, status, bytes, duration. Never the Authorization header. */
export function requestLog(log: Logger): RequestHandler {
  return (req, res, next) => {
    const id = (req.headers['x-request-id'] as string | undefined)?.slice(0, 64) || randomUUID();
    res.locals.reqId = id;
    res.setHeader('X-Request-Id', id);
    // Below info (e.g. LOG_LEVEL=warn) the line would be dropped: skip the listener and its closure,
    // a measurable share of a manifest GET's cost. Asked per request so a level change applies at once.
    if (!log.isLevelEnabled('info')) return next();
    const started = process.hrtime.bigint();
    // Socket counters, not a 'data' listener: listening would start the body flowing before handlers pipe it.
    // Held here: by 'close' the response may be detached from its socket (req.socket is then null),
    // and a throw in this listener would take the whole process down.
    const socket = req.socket;
    const readAtStart = socket.bytesRead;
    const writtenAtStart = socket.bytesWritten;
    res.on('close', () => {
      const ms = Number(process.hrtime.bigint() - started) / 1e6;
      log.info(
        {
          reqId: id,
          method: req.method,
          route: res.locals.route ?? 'unmatched',
          status: res.statusCode,
          bytesIn: socket.bytesRead - readAtStart,
          bytesOut: socket.bytesWritten - writtenAtStart,
          ms: Math.round(ms * 10) / 10,
          subject: res.locals.subject ?? undefined,
          error: res.locals.errorCode,
          aborted: !res.writableFinished || undefined,
          remote: socket.remoteAddress,
        },
        'request',
      );
    });
    next();
  };
}
