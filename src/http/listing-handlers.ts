import type { Request, Response } from 'express';
import type { Grant } from '../auth/authorizer.js';
import { parseDigest } from '../oci/digest.js';
import { MediaType } from '../oci/media-types.js';
import type { Page } from '../oci/types.js';
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
  const { items, next } = await pageWithNext(page, (p) => visibleRepositories(deps, grant, p));
  if (next !== undefined) res.setHeader('Link', linkHeader('/v2/_catalog', page.n!, next));
  res.status(200).json({ repositories: items });
}

/**
 * Filters while paging, so a page never comes back short because of hidden repositories, and costs
 * what it returns plus what it skips rather than the whole catalog.
 */
async function visibleRepositories(deps: RouterDeps, grant: Grant, page: Page): Promise<string[]> {
  const allowed = (r: string) => grant.allows(r, 'pull');
  if (page.n === undefined) return (await deps.resolver.listRepositories(page)).filter(allowed);
  const out: string[] = [];
  let last = page.last;
  while (out.length < page.n) {
    const want = Math.max(page.n - out.length, 100);
    const batch = await deps.resolver.listRepositories(last === undefined ? { n: want } : { n: want, last });
    for (const name of batch) {
      if (out.length === page.n) break;
      if (allowed(name)) out.push(name);
    }
    if (batch.length < want) break;
    last = batch[batch.length - 1];
  }
  return out;
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
