import { isDigest } from '../oci/digest.js';
import { OciError } from '../oci/errors.js';
import { parseAccept } from '../oci/media-types.js';
import { isValidTag } from '../oci/names.js';
import { readSmallBody } from './body.js';
import { setManifestHeaders } from './manifest-headers.js';
import { namespaceHint, type RouteContext } from './registry-router.js';

function repository(ctx: RouteContext) {
  return ctx.deps.resolver.resolve(ctx.match.name, namespaceHint(ctx.req));
}

/**
 * A reference that is neither a tag nor a digest names no manifest: GET and HEAD answer 404
 * MANIFEST_UNKNOWN, as Distribution does (conformance tools probe "a manifest that does not exist" this
 * way); a PUT under it is a client error, 400 TAG_INVALID.
 */
function readableRef(ctx: RouteContext): string {
  const { ref } = ctx.match;
  if (!isDigest(ref) && !isValidTag(ref)) throw new OciError('MANIFEST_UNKNOWN', 'reference is neither a valid tag nor a valid digest', { detail: { reference: ref.slice(0, 200) } });
  return ref;
}

function writableRef(ctx: RouteContext): string {
  const { ref } = ctx.match;
  if (!isDigest(ref) && !isValidTag(ref)) throw new OciError('TAG_INVALID', 'invalid tag', { detail: { tag: ref.slice(0, 200) } });
  return ref;
}

export const manifestHandlers = {
  GET: {
    action: 'pull' as const,
    async handle(ctx: RouteContext) {
      const repo = repository(ctx);
      const { descriptor, body } = await repo.getManifest(readableRef(ctx), parseAccept(ctx.req.headers.accept));
      setManifestHeaders(ctx.res, { ...descriptor, size: body.length });
      ctx.res.status(200).end(body);
      ctx.deps.downloads?.record(repo.name, descriptor.digest);
    },
  },
  HEAD: {
    action: 'pull' as const,
    async handle(ctx: RouteContext) {
      const descriptor = await repository(ctx).headManifest(readableRef(ctx), parseAccept(ctx.req.headers.accept));
      setManifestHeaders(ctx.res, descriptor);
      ctx.res.status(200).end();
    },
  },
  PUT: {
    action: 'push' as const,
    async handle(ctx: RouteContext) {
      const ref = writableRef(ctx);
      const body = await readSmallBody(ctx.req, ctx.deps.maxManifestBytes);
      const { descriptor, subject } = await repository(ctx).putManifest(ref, ctx.req.headers['content-type'], body);
      ctx.res.setHeader('Location', `/v2/${ctx.match.name}/manifests/${descriptor.digest}`);
      ctx.res.setHeader('Docker-Content-Digest', descriptor.digest);
      if (subject) ctx.res.setHeader('OCI-Subject', subject);
      ctx.res.status(201).setHeader('Content-Length', 0).end();
    },
  },
  DELETE: {
    action: 'delete' as const,
    async handle(ctx: RouteContext) {
      await repository(ctx).deleteManifest(ctx.match.ref);
      ctx.res.status(202).setHeader('Content-Length', 0).end();
    },
  },
};
