import type { Request, Response } from 'express';
import type { Grant } from '../auth/authorizer.js';
import { parseDigest } from '../oci/digest.js';
import { MediaType } from '../oci/media-types.js';
import { paginate } from '../metadata/metadata-index.js';
import { linkHeader, pageWithNext, parsePage } from './pagination.js';
import { namespaceHint, type RouteContext, type RouterDeps } from './registry-router.js';

export async function tagsHandler(ctx: RouteContext): Promise<void> {
  const page = parsePage(ctx.req.query);
  const repo = ctx.deps.resolver.resolve(ctx.match.name, namespaceHint(ctx.req));
  const { items, next } = await pageWithNext(page, (p) => repo.listTags(p));
  if (next !== undefined) ctx.res.setHeader('Link', linkHeader(`/v2/${ctx.match.name}/tags/list`, page.n!, next));
  ctx.res.status(200).json({ name: ctx.match.name, tags: items });
}

export async function catalogHandler(req: Request, res: Response, deps: RouterDeps, grant: Grant): Promise<void> {
  const page = parsePage(req.query);
  // Filter before paginating, so a page never comes back short because of hidden repositories.
  const visible = (await deps.resolver.listRepositories({})).filter((r) => grant.allows(r, 'pull'));
  const { items, next } = await pageWithNext(page, async (p) => paginate(visible, p));
  if (next !== undefined) res.setHeader('Link', linkHeader('/v2/_catalog', page.n!, next));
  res.status(200).json({ repositories: items });
}

export async function referrersHandler(ctx: RouteContext): Promise<void> {
  const subject = parseDigest(ctx.match.ref);
  const filter = typeof ctx.req.query.artifactType === 'string' ? ctx.req.query.artifactType : undefined;
  const repo = ctx.deps.resolver.resolve(ctx.match.name, namespaceHint(ctx.req));
  const manifests = await repo.referrers(subject, filter);
  if (filter !== undefined) ctx.res.setHeader('OCI-Filters-Applied', 'artifactType');
  ctx.res
    .status(200)
    .type(MediaType.OciIndex)
    .end(JSON.stringify({ schemaVersion: 2, mediaType: MediaType.OciIndex, manifests }));
}
