import { isValidName } from '../oci/names.js';
import type { Access, Action } from './authorizer.js';

const ACTIONS: readonly Action[] = ['pull', 'push', 'delete'];

/**
 * Parses Docker token scopes: `repository:NAME:pull,push`, `registry:catalog:*`. Several scopes may come
 * space-separated in one parameter or as repeated parameters. Unknown types and bad names are dropped:
 * a token request asking for nonsense gets a token without it, as Distribution's token servers do.
 */
export function parseScopes(values: readonly string[]): Access[] {
  const out: Access[] = [];
  for (const value of values) {
    for (const scope of value.split(' ')) {
      const first = scope.indexOf(':');
      const last = scope.lastIndexOf(':');
      if (first <= 0 || last === first) continue;
      // 'repository(plugin)' carries a resource class; only the type matters here.
      const type = scope.slice(0, first).replace(/\(.*\)$/, '');
      const name = scope.slice(first + 1, last);
      const actions = scope.slice(last + 1).split(',');
      if (type === 'registry' && name === 'catalog' && actions.includes('*')) {
        out.push({ type: 'registry', name: 'catalog', actions: ['*'] });
      } else if (type === 'repository' && isValidName(name)) {
        const wanted = actions.includes('*') ? [...ACTIONS] : ACTIONS.filter((a) => actions.includes(a));
        if (wanted.length > 0) out.push({ type: 'repository', name, actions: wanted });
      }
    }
  }
  return merge(out);
}

/** One entry per resource, actions united, in first-seen order. */
export function merge(list: readonly Access[]): Access[] {
  const byKey = new Map<string, Access>();
  for (const a of list) {
    const key = `${a.type}:${a.name}`;
    const seen = byKey.get(key);
    if (!seen) byKey.set(key, a.type === 'registry' ? a : { ...a, actions: [...a.actions] });
    else if (seen.type === 'repository' && a.type === 'repository') {
      for (const action of a.actions) if (!seen.actions.includes(action)) seen.actions.push(action);
    }
  }
  return [...byKey.values()];
}

export function formatScope(access: Access): string {
  return `${access.type}:${access.name}:${access.actions.join(',')}`;
}

export type ChallengeError = 'invalid_token' | 'insufficient_scope';

/** `WWW-Authenticate: Bearer realm="…",service="…",scope="…"[,error="…"]`: what docker login and containerd read. */
export function bearerChallenge(realm: string, service: string, wanted: readonly Access[], error?: ChallengeError): string {
  const parts = [`realm="${quote(realm)}"`, `service="${quote(service)}"`];
  if (wanted.length > 0) parts.push(`scope="${quote(wanted.map(formatScope).join(' '))}"`);
  if (error) parts.push(`error="${error}"`);
  return `Bearer ${parts.join(',')}`;
}

function quote(value: string): string {
  return value.replace(/["\\]/g, '');
}
