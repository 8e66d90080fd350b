import { isDigest, parseDigest, type Digest } from '../oci/digest.js';
import { OciError, isOciError } from '../oci/errors.js';
import { isValidName } from '../oci/names.js';
import type { Upload } from '../registry/repository.js';
import { hasBody } from './body.js';
import { parseUploadContentRange } from './ranges.js';
import { namespaceHint, type RouteContext } from './registry-router.js';

function repository(ctx: RouteContext) {
  return ctx.deps.resolver.resolve(ctx.match.name, namespaceHint(ctx.req));
}

function queryDigest(ctx: RouteContext): Digest | undefined {
  const value = ctx.req.query.digest;
  if (value === undefined) return undefined;
  if (typeof value !== 'string') throw new OciError('DIGEST_INVALID', 'digest must be given once');
  return parseDigest(value);
}

function uploadLocation(ctx: RouteContext, id: string): string {
  return `/v2/${ctx.match.name}/blobs/uploads/${id}`;
}

export function uploadRange(size: number): string {
  return `0-${size > 0 ? size - 1 : 0}`;
}

function sendUploadState(ctx: RouteContext, upload: Upload, status: number): void {
  ctx.res.setHeader('Location', uploadLocation(ctx, upload.id));
  ctx.res.setHeader('Range', uploadRange(upload.size));
  ctx.res.setHeader('Docker-Upload-UUID', upload.id);
  ctx.res.status(status).setHeader('Content-Length', 0).end();
}

function sendCreated(ctx: RouteContext, digest: Digest): void {
  ctx.res.setHeader('Location', `/v2/${ctx.match.name}/blobs/${digest}`);
  ctx.res.setHeader('Docker-Content-Digest', digest);
  ctx.res.status(201).setHeader('Content-Length', 0).end();
}

/** A RANGE_INVALID from the store gets the upload's Location too, so the client can resume. */
async function withUploadLocation<T>(ctx: RouteContext, work: () => Promise<T>): Promise<T> {
  try {
    return await work();
  } catch (err) {
    if (isOciError(err, 'RANGE_INVALID')) {
      // An unknown session is the better answer than a range error about it (BLOB_UPLOAD_UNKNOWN).
      const upload = await repository(ctx).getUpload(ctx.match.ref);
      err.headers.Location = uploadLocation(ctx, upload.id);
      err.headers.Range = uploadRange(upload.size);
    }
    throw err;
  }
}

function declaredLength(ctx: RouteContext): number | undefined {
  const value = ctx.req.headers['content-length'];
  return value === undefined ? undefined : Number(value);
}

/** The request's Content-Range, checked against its Content-Length (RANGE_INVALID on a mismatch). */
function contentRange(ctx: RouteContext) {
  const range = parseUploadContentRange(ctx.req.headers['content-range'] as string | undefined);
  const length = declaredLength(ctx);
  if (range && length !== undefined && range.end - range.start + 1 !== length) {
    throw new OciError('RANGE_INVALID', 'Content-Range does not match Content-Length');
  }
  return range;
}

/**
 * A closing PUT with a body may say where that body goes; anywhere but the upload's end is refused
 * before a byte is written, so the session stays as it was and the client can resume from its Range.
 */
async function requireRangeAtEnd(ctx: RouteContext): Promise<void> {
  const range = contentRange(ctx);
  if (!range) return;
  const { size } = await repository(ctx).getUpload(ctx.match.ref);
  if (range.start !== size) throw new OciError('RANGE_INVALID', `Content-Range must start at the upload's current size, ${size}`);
}

/**
 * With access control on, a session belongs to the subject that started it: to anyone else, even a writer
 * of the same repository who learned the id, it does not exist (no progress, no appending, no cancelling).
 * With it off there is no subject, and nothing to check.
 */
async function requireOwner(ctx: RouteContext): Promise<Upload | undefined> {
  const subject = ctx.grant.subject;
  if (subject === null) return undefined;
  const upload = await repository(ctx).getUpload(ctx.match.ref);
  // Sessions from before owners were recorded have none; they expire with the upload expiry.
  if (upload.owner !== undefined && upload.owner !== subject) throw new OciError('BLOB_UPLOAD_UNKNOWN', undefined, { detail: { uuid: ctx.match.ref.slice(0, 64) } });
  return upload;
}

export const uploadHandlers = {
  start: {
    POST: {
      action: 'push' as const,
      async handle(ctx: RouteContext) {
        const repo = repository(ctx);
        const mount = ctx.req.query.mount;
        const from = ctx.req.query.from;
        // Spec, "Mounting a blob": a registry unable to mount SHOULD answer 202 and start a session, so a
        // malformed mount digest or source name falls back to an upload like any other failed mount.
        if (typeof mount === 'string' && typeof from === 'string' && isValidName(from) && isDigest(mount)) {
          const digest = mount;
          const grant = await ctx.authorize([{ type: 'repository', name: from, actions: ['pull'] }]).catch(() => undefined);
          if (grant?.allows(from, 'pull') && (await repo.mountBlob(digest, from))) return sendCreated(ctx, digest);
        }
        const digest = queryDigest(ctx);
        if (digest) {
          await repo.putBlob(ctx.req, digest, declaredLength(ctx));
          return sendCreated(ctx, digest);
        }
        sendUploadState(ctx, await repo.startUpload(ctx.grant.subject ?? undefined), 202);
      },
    },
  },
  session: {
    GET: {
      action: 'push' as const,
      async handle(ctx: RouteContext) {
        sendUploadState(ctx, (await requireOwner(ctx)) ?? (await repository(ctx).getUpload(ctx.match.ref)), 204);
      },
    },
    PATCH: {
      action: 'push' as const,
      async handle(ctx: RouteContext) {
        await requireOwner(ctx);
        // Header checks run inside withUploadLocation too: every 416 tells the client where to resume.
        const upload = await withUploadLocation(ctx, () => repository(ctx).appendUpload(ctx.match.ref, ctx.req, contentRange(ctx)?.start));
        sendUploadState(ctx, upload, 202);
      },
    },
    PUT: {
      action: 'push' as const,
      async handle(ctx: RouteContext) {
        const digest = queryDigest(ctx);
        if (!digest) throw new OciError('DIGEST_INVALID', 'the digest query parameter is required');
        const body = hasBody(ctx.req) ? ctx.req : undefined;
        await requireOwner(ctx);
        await withUploadLocation(ctx, async () => {
          if (body) await requireRangeAtEnd(ctx);
          return repository(ctx).finishUpload(ctx.match.ref, digest, body);
        });
        sendCreated(ctx, digest);
      },
    },
    DELETE: {
      action: 'push' as const,
      async handle(ctx: RouteContext) {
        await requireOwner(ctx);
        await repository(ctx).cancelUpload(ctx.match.ref);
        ctx.res.status(204).end();
      },
    },
  },
};
