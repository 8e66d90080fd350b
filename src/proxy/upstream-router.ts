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
  /** The `hostedNamespaces` entry that would make the requested name hosted ('acme/' for 'acme/app'). */
  hostedNamespace: string;
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
  private readonly hostedOnly: readonly string[];

  /** `hostedNamespaces` ('acme/', 'internal/'): names under them never map to an upstream, whatever the rules below say. */
  constructor(upstreams: readonly MirrorUpstream[], hostedNamespaces: readonly string[] = []) {
    this.enabled = upstreams.filter((u) => u.config.enabled);
    this.hostedOnly = hostedNamespaces.map((n) => n.replace(/\/+$/, ''));
  }

  get isEmpty(): boolean {
    return this.enabled.length === 0;
  }

  /** True for a name under a hosted namespace: 'acme' covers 'acme' and 'acme/…', as access-control namespaces do. */
  isHostedOnly(name: string): boolean {
    return this.hostedOnly.some((n) => name === n || name.startsWith(`${n}/`));
  }

  route(name: string, namespace?: string): MirrorRoute | undefined {
    // Checked first: a private name must never reach an upstream, not even through a prefix or `?ns=`.
    if (this.isHostedOnly(name)) return undefined;
    for (const u of this.enabled) {
      const prefix = u.config.prefix;
      if (prefix !== undefined && name.startsWith(prefix)) return routeTo(u, name.slice(prefix.length), prefix);
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

function routeTo(upstream: MirrorUpstream, requested: string, matchedPrefix = ''): MirrorRoute {
  const remoteName = upstream.config.dockerHub && !requested.includes('/') ? `library/${requested}` : requested;
  const localName = `${upstream.config.prefix ?? ''}${remoteName}`;
  if (!isValidName(localName)) throw new OciError('NAME_INVALID', 'repository name too long once mapped to its upstream', { detail: { name: localName.slice(0, 300) } });
  return { upstream, remoteName, localName, hostedNamespace: `${matchedPrefix}${requested.split('/')[0]}/` };
}

/**
 * The answer to a write on a mirrored name without `allowHostedShadow`: it names both settings that
 * would allow it, since a new user meets this first when pushing to a `default: true` mirror.
 */
export function pushRefused(route: MirrorRoute): OciError {
  const upstream = route.upstream.config.name;
  return new OciError(
    'DENIED',
    `${route.localName} is mirrored from upstream ${upstream}; pushing to it is not allowed. ` +
      `To host it here, add '${route.hostedNamespace}' to hostedNamespaces (names under it are never looked up upstream), ` +
      `or set allowHostedShadow: true on upstream ${upstream} (pushed content then shadows the upstream's)`,
    { detail: { name: route.localName, upstream, hostedNamespace: route.hostedNamespace } },
  );
}
