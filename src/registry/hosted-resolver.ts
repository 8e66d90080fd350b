import type { MetadataIndex } from '../metadata/metadata-index.js';
import type { Page } from '../oci/types.js';
import { HostedRepository, type HostedContext } from './hosted-repository.js';
import type { Repository, RepositoryResolver } from './repository.js';

/** Every name is a hosted repository (the resolver the mirror decorates). */
export class HostedResolver implements RepositoryResolver {
  constructor(
    private readonly ctx: HostedContext,
    private readonly index: MetadataIndex,
  ) {}

  resolve(name: string): Repository {
    return new HostedRepository(name, this.ctx);
  }

  listRepositories(page: Page): Promise<string[]> {
    return this.index.listRepositories(page);
  }
}
