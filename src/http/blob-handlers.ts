import { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { parseDigest, type Digest } from '../oci/digest.js';
import { OciError, isOciError } from '../oci/errors.js';
import type { BlobHandle, Repository } from '../registry/repository.js';
import { parseRangeHeader } from './ranges.js';
import { namespaceHint, type RouteContext } from './registry-router.js';

function repository(ctx: RouteContext) {
  return ctx.deps.resolver.resolve(ctx.match.name, namespaceHint(ctx.req));
}

function digestParam(ctx: RouteContext) {
  try {
    return parseDigest(ctx.match.ref);
  } catch {
    throw new OciError('DIGEST_INVALID', 'invalid digest in path');
  }
}

/**
 * A manifest is content too: a blob GET or HEAD of a manifest's digest in this repository returns the
 * manifest's bytes, as Distribution does (some tools fetch manifests this way). Tried only on a blob
 * miss, so the blob path pays nothing; manifests are small and already held in memory by the manifest cache.
 */
async function blobOrManifest(repo: Repository, digest: Digest): Promise<BlobHandle> {
  try {
    return await repo.getBlob(digest);
  } catch (err) {
    if (!isOciError(err, 'BLOB_UNKNOWN')) throw err;
    const manifest = await repo.getManifest(digest, ['*/*']).catch(() => {
      throw err;
    });
    const bytes = manifest.body;
    return { size: bytes.length, open: async (range) => Readable.from([range ? bytes.subarray(range.start, range.end + 1) : bytes]) };
  }
}

async function statBlobOrManifest(repo: Repository, digest: Digest): Promise<{ size: number }> {
  try {
    return await repo.statBlob(digest);
  } catch (err) {
    if (!isOciError(err, 'BLOB_UNKNOWN')) throw err;
    const descriptor = await repo.headManifest(digest, ['*/*']).catch(() => {
      throw err;
    });
    return { size: descriptor.size };
  }
}

function commonHeaders(ctx: RouteContext, digest: string): void {
  ctx.res.setHeader('Docker-Content-Digest', digest);
  ctx.res.setHeader('Accept-Ranges', 'bytes');
  ctx.res.setHeader('ETag', `"${digest}"`);
  ctx.res.setHeader('Cache-Control', 'max-age=31536000');
  ctx.res.setHeader('Content-Type', 'application/octet-stream');
}

export const blobHandlers = {
  GET: {
    action: 'pull' as const,
    async handle(ctx: RouteContext) {
      const digest = digestParam(ctx);
      const blob = await blobOrManifest(repository(ctx), digest);
      // Object storage set to redirect: the client fetches (and ranges) from the store itself.
      const location = blob.redirect ? await blob.redirect() : undefined;
      if (location) {
        ctx.res.setHeader('Docker-Content-Digest', digest);
        ctx.res.status(307).setHeader('Location', location).setHeader('Content-Length', 0).end();
        return;
      }
      const range = parseRangeHeader(ctx.req.headers.range, blob.size);
      // Opened before any header is set, so a vanished blob is still a clean BLOB_UNKNOWN.
      const copy = blob.openCopy ? await blob.openCopy(range) : undefined;
      const stream = copy ? undefined : await blob.open(range);
      commonHeaders(ctx, digest);
      if (range) {
        ctx.res.status(206);
        ctx.res.setHeader('Content-Range', `bytes ${range.start}-${range.end}/${blob.size}`);
        ctx.res.setHeader('Content-Length', range.end - range.start + 1);
      } else {
        ctx.res.status(200);
        ctx.res.setHeader('Content-Length', blob.size);
      }
      try {
        if (copy) await copy(ctx.res);
        else await pipeline(stream!, ctx.res);
      } catch {
        // The client hung up or the source failed mid-body: the connection is already closed.
        ctx.res.destroy();
      }
    },
  },
  HEAD: {
    action: 'pull' as const,
    async handle(ctx: RouteContext) {
      const digest = digestParam(ctx);
      const { size } = await statBlobOrManifest(repository(ctx), digest);
      commonHeaders(ctx, digest);
      ctx.res.status(200).setHeader('Content-Length', size);
      ctx.res.end();
    },
  },
  DELETE: {
    action: 'delete' as const,
    async handle(ctx: RouteContext) {
      await repository(ctx).deleteBlob(digestParam(ctx));
      ctx.res.status(202).setHeader('Content-Length', 0).end();
    },
  },
};
