import { z } from 'zod';

/**
 * Upstream registries the pull-through cache mirrors. Secrets may be given inline or, better, as the
 * name of an environment variable (`passwordEnv`, `tokenEnv`) so config files can be committed; they are
 * resolved when the registry starts and never logged.
 */
const credentialsSchema = z
  .object({
    username: z.string().min(1).optional().describe('User for Basic auth and token requests'),
    usernameEnv: z.string().min(1).optional().describe('Environment variable holding the user'),
    password: z.string().min(1).optional().describe('Password or personal access token (inline: prefer passwordEnv)'),
    passwordEnv: z.string().min(1).optional().describe('Environment variable holding the password'),
    token: z.string().min(1).optional().describe('A ready bearer token sent as is (e.g. GHCR PAT), no token dance'),
    tokenEnv: z.string().min(1).optional().describe('Environment variable holding that bearer token'),
  })
  .strict()
  .refine((c) => !(c.password !== undefined && c.passwordEnv !== undefined), 'give password or passwordEnv, not both')
  .refine((c) => !(c.token !== undefined && c.tokenEnv !== undefined), 'give token or tokenEnv, not both')
  .refine((c) => !(c.username !== undefined && c.usernameEnv !== undefined), 'give username or usernameEnv, not both');

const PREFIX_PATTERN = /^[a-z0-9](?:[a-z0-9._:-]*[a-z0-9])?(?:\/[a-z0-9](?:[a-z0-9._-]*[a-z0-9])?)*\/$/;

export const upstreamSchema = z
  .object({
    name: z
      .string()
      .regex(/^[a-z0-9][a-z0-9_-]{0,62}$/, 'lower-case letters, digits, - and _')
      .describe('Short name, used in metrics labels and logs'),
    url: z
      .string()
      .url()
      .refine((u) => /^https?:$/.test(new URL(u).protocol), 'http:// or https:// only')
      // Secrets in URLs end up in logs and error messages; they belong under credentials.
      .refine((u) => new URL(u).username === '' && new URL(u).password === '', 'no user:password in the URL; use credentials')
      .describe('Base URL of the upstream registry, e.g. https://registry-1.docker.io'),
    prefix: z
      .string()
      .regex(PREFIX_PATTERN, "a repository path prefix ending in '/', e.g. 'docker.io/'")
      .optional()
      .describe("Repositories under this prefix map to this upstream, the prefix removed: 'docker.io/library/alpine' → 'library/alpine'"),
    namespaces: z
      .array(z.string().min(1))
      .optional()
      .describe("containerd's ?ns= values that select this upstream; default: the prefix without its trailing '/'"),
    default: z.boolean().default(false).describe('Names matching no prefix are mirrored from this upstream (mirror mode)'),
    dockerHub: z.boolean().default(false).describe("Docker Hub rules: a one-component name means 'library/<name>'"),
    credentials: credentialsSchema.optional().describe('Sent only to this upstream and its token service'),
    tagTtlSeconds: z.coerce.number().int().nonnegative().default(300).describe('A cached tag is served without asking upstream for this long'),
    listTtlSeconds: z.coerce.number().int().nonnegative().default(30).describe('Tag lists and referrers fetched upstream are reused for this long'),
    enabled: z.boolean().default(true).describe('A disabled upstream is ignored: its names become plain hosted names'),
    maxConcurrency: z.coerce.number().int().positive().default(8).describe('Requests in flight to this upstream at once (p-queue)'),
    allowHostedShadow: z.boolean().default(false).describe("Allow pushes to names that map here; pushed content then wins over the upstream's"),
    timeoutSeconds: z.coerce.number().positive().default(30).describe('Connect/response-header timeout and idle timeout of a body'),
    tokenMarginSeconds: z.coerce.number().nonnegative().default(30).describe('Upstream tokens are renewed this long before they expire'),
  })
  .strict()
  .refine((u) => u.prefix !== undefined || u.default || (u.namespaces?.length ?? 0) > 0, {
    message: 'an upstream needs a prefix, namespaces or default: true, else no name maps to it',
  });

export const upstreamsSchema = z
  .array(upstreamSchema)
  .default([])
  .superRefine((list, ctx) => {
    const enabled = list.filter((u) => u.enabled);
    if (enabled.filter((u) => u.default).length > 1) ctx.addIssue({ code: 'custom', message: 'at most one enabled upstream may be the default' });
    const seen = new Set<string>();
    for (const [i, u] of list.entries()) {
      if (seen.has(u.name)) ctx.addIssue({ code: 'custom', path: [i, 'name'], message: `duplicate upstream name '${u.name}'` });
      seen.add(u.name);
    }
    const prefixes = new Set<string>();
    for (const [i, u] of enabled.entries()) {
      if (u.prefix === undefined) continue;
      if (prefixes.has(u.prefix)) ctx.addIssue({ code: 'custom', path: [i, 'prefix'], message: `duplicate prefix '${u.prefix}'` });
      prefixes.add(u.prefix);
    }
  });

/**
 * Namespaces that are hosted only, even where an upstream would otherwise claim their names (a
 * `default: true` upstream claims every name under no prefix): pushes are allowed there (subject to
 * access control), and a miss is a 404 at once, so private names never reach an upstream.
 */
export const hostedNamespacesSchema = z
  .array(
    z
      .string()
      .transform((n) => (n.endsWith('/') ? n : `${n}/`))
      .pipe(z.string().regex(PREFIX_PATTERN, "a repository path prefix like 'acme/'")),
  )
  .default([])
  .describe("Names under these prefixes ('acme/', 'internal/') are hosted here only: pushable, never looked up upstream");

export type UpstreamConfig = z.infer<typeof upstreamSchema>;
export type UpstreamCredentialsConfig = z.infer<typeof credentialsSchema>;
