import type { Page } from '../oci/types.js';
import { HostedContentIndex, ShadowedRepository } from './hosted-shadow.js';
import type { Repository, RepositoryResolver } from '../registry/repository.js';
import type { MirrorContext } from './mirror-context.js';
import { MirrorRepository } from './mirror-repository.js';
import type { UpstreamRouter } from './upstream-router.js';

/**
 * Decorates the hosted resolver: names that map to an upstream become mirrored repositories over the
 * hosted repository of their cache name; every other name stays hosted. The catalog lists only what
 * is held locally (pushed or cached), never the upstreams' contents. Names under `hostedNamespaces`
 * get no route, so they are hosted whatever the upstreams claim. On an upstream that allows a hosted
 * shadow, a name holding pushed content is served from the hosted side alone.
 */
export class MirrorResolver implements RepositoryResolver {
  private readonly hostedContent: HostedContentIndex;

  constructor(
    private readonly hosted: RepositoryResolver,
    private readonly router: UpstreamRouter,
    private readonly ctx: MirrorContext,
  ) {
    this.hostedContent = new HostedContentIndex(ctx.index);
  }

  resolve(name: string, hints?: { namespace?: string }): Repository {
    const route = this.router.route(name, hints?.namespace);
    if (!route) return this.hosted.resolve(name);
    const local = this.hosted.resolve(route.localName);
    const mirrored = new MirrorRepository(route, local, this.ctx);
    return route.upstream.config.allowHostedShadow ? new ShadowedRepository(mirrored, local, this.hostedContent) : mirrored;
  }

  listRepositories(page: Page): Promise<string[]> {
    return this.hosted.listRepositories(page);
  }
}
