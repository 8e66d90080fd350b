import type { Action } from './authorizer.js';

/** Token and user scopes, named as GitHub's read:packages / write:packages / delete:packages. */
export type Scope = 'read' | 'write' | 'delete';
export type Visibility = 'private' | 'public';

/** write and delete imply read: a client that pushes or deletes must be able to see what it changes. */
const SCOPE_ACTIONS: Record<Scope, readonly Action[]> = {
  read: ['pull'],
  write: ['pull', 'push'],
  delete: ['pull', 'delete'],
};

export interface NamespaceGrant {
  /** 'acme' (same as 'acme/') covers 'acme/x' and 'acme/backend/x'; '*' covers everything. */
  readonly namespace: string;
  readonly scopes: readonly Scope[];
}

/** How a caller proved who they are: a user's password, an access token, or an OIDC token from CI. */
export type LoginMethod = 'password' | 'token' | 'oidc';

/** Someone who proved who they are: a user (password), one of a user's access tokens, or a CI job (OIDC). */
export interface Identity {
  readonly subject: string;
  readonly tokenId?: string;
  readonly method?: LoginMethod;
  /** Epoch ms after which the credential itself expires (OIDC): tokens issued from it never outlive it. */
  readonly expiresAt?: number;
  allows(repo: string, action: Action): boolean;
}

export function normalizeNamespace(ns: string): string {
  return ns === '*' ? ns : ns.replace(/\/+$/, '');
}

export function inNamespace(ns: string, repo: string): boolean {
  if (ns === '*') return true;
  const n = normalizeNamespace(ns);
  return repo === n || repo.startsWith(`${n}/`);
}

export function scopesAllow(scopes: readonly Scope[], action: Action): boolean {
  return scopes.some((s) => SCOPE_ACTIONS[s].includes(action));
}

export function grantsAllow(grants: readonly NamespaceGrant[], repo: string, action: Action): boolean {
  return grants.some((g) => inNamespace(g.namespace, repo) && scopesAllow(g.scopes, action));
}

/**
 * Which repositories anyone may pull. The longest configured prefix wins, so 'acme/' can be public
 * while 'acme/secret/' stays private; names under no prefix get the default.
 */
export class VisibilityPolicy {
  private readonly rules: ReadonlyArray<{ prefix: string; visibility: Visibility }>;

  constructor(
    rules: ReadonlyArray<{ prefix: string; visibility: Visibility }>,
    private readonly fallback: Visibility,
  ) {
    this.rules = rules
      .map((r) => ({ prefix: normalizeNamespace(r.prefix), visibility: r.visibility }))
      .sort((a, b) => b.prefix.length - a.prefix.length);
  }

  visibility(repo: string): Visibility {
    return this.rules.find((r) => inNamespace(r.prefix, repo))?.visibility ?? this.fallback;
  }

  isPublic(repo: string): boolean {
    return this.visibility(repo) === 'public';
  }
}
