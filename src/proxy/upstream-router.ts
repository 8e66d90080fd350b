import type { UpstreamConfig } from '../config/upstreams-schema.js';
import { OciError } from '../oci/errors.js';
import { isValidName } from '../oci/names.js';
import type { UpstreamClient } from '../upstream/upstream-client.js';

export interface MirrorUpstream {
  readonly config: UpstreamConfig;
  readonly client: UpstreamClient;
}

/** Where a requested name is mirrored from. */
export interface MirrorRoute {
  upstream: MirrorUpstream;
  /** The name on the upstream ('library/alpine'). */
  remoteName: string;
  /** The one name the cache keeps it under ('docker.io/library/alpine'), whatever path the client used. */
  localName: string;
}

/** Names containerd and Docker use for Docker Hub in `?ns=`. */
const DOCKER_HUB_HOSTS = ['docker.io', 'registry-1.docker.io', 'index.docker.io'];

/**
 * Maps a requested repository name to an upstream: by prefix ('docker.io/library/alpine'), else by
 * containerd's `?ns=` hint, else the default upstream. A `?ns=` naming a registry we do not mirror
 * selects nothing (hosted), rather than the default: serving another registry's image under the
 * same name would be wrong, and a 404 lets the client move on to the real registry.
 */
export class UpstreamRouter {
  private readonly enabled: readonly MirrorUpstream[];

  constructor(upstreams: readonly MirrorUpstream[]) {
    this.enabled = upstreams.filter((u) => u.config.enabled);
  }

  get isEmpty(): boolean {
    return this.enabled.length === 0;
  }

  route(name: string, namespace?: string): MirrorRoute | undefined {
    for (const u of this.enabled) {
      const prefix = u.config.prefix;
      if (prefix !== undefined && name.startsWith(prefix)) return routeTo(u, name.slice(prefix.length));
    }
    if (namespace !== undefined) {
      const ns = namespace.toLowerCase();
      const u = this.enabled.find((candidate) => namespacesOf(candidate.config).includes(ns));
      return u ? routeTo(u, name) : undefined;
    }
    const fallback = this.enabled.find((u) => u.config.default);
    return fallback ? routeTo(fallback, name) : undefined;
  }
}

function namespacesOf(c: UpstreamConfig): string[] {
  const own = c.namespaces ?? (c.prefix !== undefined ? [c.prefix.slice(0, -1)] : []);
  return c.dockerHub ? [...own, ...DOCKER_HUB_HOSTS] : own;
}

function routeTo(upstream: MirrorUpstream, requested: string): MirrorRoute {
  const remoteName = upstream.config.dockerHub && !requested.includes('/') ? `library/${requested}` : requested;
  const localName = `${upstream.config.prefix ?? ''}${remoteName}`;
  if (!isValidName(localName)) throw new OciError('NAME_INVALID', 'repository name too long once mapped to its upstream', { detail: { name: localName.slice(0, 300) } });
  return { upstream, remoteName, localName };
}
