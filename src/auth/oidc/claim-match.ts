/**
 * Claim conditions of OIDC policies. A condition is an exact value or a glob: `*` matches within one
 * path segment (never `/`), `**` matches across segments, `?` one character other than `/`. So
 * `repository: acme/*` takes every repository of acme, and `ref: refs/heads/*` takes branch names without
 * a slash while `refs/heads/**` takes them all. A list of conditions means any of them.
 */
export function globToRegExp(glob: string): RegExp {
  let out = '';
  for (let i = 0; i < glob.length; i++) {
    const c = glob[i]!;
    if (c === '*' && glob[i + 1] === '*') {
      out += '.*';
      i++;
    } else if (c === '*') out += '[^/]*';
    else if (c === '?') out += '[^/]';
    else out += c.replace(/[.+^${}()|[\]\\]/g, '\\$&');
  }
  return new RegExp(`^${out}$`, 's');
}

export type ClaimConditions = Readonly<Record<string, string | readonly string[]>>;

/** Compiled once at start: one matcher per claim. */
export function compileConditions(conditions: ClaimConditions): (claims: Readonly<Record<string, unknown>>) => boolean {
  const tests = Object.entries(conditions).map(([claim, cond]) => {
    const patterns = (typeof cond === 'string' ? [cond] : cond).map(globToRegExp);
    return { claim, patterns };
  });
  return (claims) =>
    tests.every(({ claim, patterns }) => {
      const value = claimValue(claims[claim]);
      return value !== undefined && patterns.some((p) => p.test(value));
    });
}

/** Strings, numbers and booleans compare as their text; objects, arrays and absent claims never match. */
function claimValue(v: unknown): string | undefined {
  if (typeof v === 'string') return v;
  if (typeof v === 'number' || typeof v === 'boolean') return String(v);
  return undefined;
}
