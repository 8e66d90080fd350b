import type { Page } from '../oci/types.js';
import type { Repository, RepositoryResolver } from '../registry/repository.js';
import type { MirrorContext } from './mirror-context.js';
import { MirrorRepository } from './mirror-repository.js';
import type { UpstreamRouter } from './upstream-router.js';

/**
 * Decorates the hosted resolver: names that map to an upstream become mirrored repositories over the
 * hosted repository of their cache name; every other name stays hosted. The catalog lists only what
 * is held locally (pushed or cached), never the upstreams' contents.
 */
export class MirrorResolver implements RepositoryResolver {
  constructor(
    private readonly hosted: RepositoryResolver,
    private readonly router: UpstreamRouter,
    private readonly ctx: MirrorContext,
  ) {}

  resolve(name: string, hints?: { namespace?: string }): Repository {
    const route = this.router.route(name, hints?.namespace);
    if (!route) return this.hosted.resolve(name);
    return new MirrorRepository(route, this.hosted.resolve(route.localName), this.ctx);
  }

  listRepositories(page: Page): Promise<string[]> {
    return this.hosted.listRepositories(page);
  }
}
