import { z } from 'zod';

/**
 * Access control (issue 4). Off by default, so the registry runs open on the embedded defaults: every
 * caller may pull, push and delete everything, no token endpoint is mounted. With `enabled: true`,
 * private namespaces need a credential to pull, and every push or delete needs one.
 */

const scope = z.enum(['read', 'write', 'delete']).describe('read → pull; write → pull + push; delete → pull + delete');
const visibility = z.enum(['private', 'public']);
/** 'acme', 'acme/' and 'acme/backend/' name the repositories under them; '*' means every repository. */
const namespace = z
  .string()
  .regex(/^(\*|[a-z0-9][a-z0-9._:-]*(\/[a-z0-9][a-z0-9._-]*)*\/?)$/, "a repository path prefix like 'acme/' or '*'");

const accessSchema = z
  .object({
    namespace: namespace.describe("Namespace the scopes apply to ('*': all)"),
    scopes: z.array(scope).min(1),
  })
  .strict();

const namespaceSchema = z
  .object({
    prefix: namespace.describe("Repository prefix, e.g. 'acme/' or 'acme/backend/'; the longest matching prefix wins"),
    visibility: visibility.default('private').describe('public: anonymous pull; push and delete still need a credential'),
  })
  .strict();

const BCRYPT = /^\$2[abxy]?\$\d{2}\$[./A-Za-z0-9]{53}$/;
const SCRYPT = /^\$scrypt\$ln=\d{1,2},r=\d{1,2},p=\d{1,2}\$[A-Za-z0-9+/]+={0,2}\$[A-Za-z0-9+/]+={0,2}$/;

const userSchema = z
  .object({
    name: z.string().regex(/^[A-Za-z0-9][A-Za-z0-9._@-]{0,63}$/, 'letters, digits, . _ @ -'),
    passwordHash: z
      .string()
      .refine((h) => BCRYPT.test(h) || SCRYPT.test(h), 'a scrypt hash ($scrypt$…, `registry-admin hash-password`) or a bcrypt hash ($2y$…, `htpasswd -nbB`; passwords over 72 bytes are refused against it)')
      .optional(),
    passwordEnv: z.string().min(1).optional().describe('Environment variable holding the plain password, hashed at start'),
    access: z.array(accessSchema).default([]),
  })
  .strict()
  .refine((u) => !(u.passwordHash !== undefined && u.passwordEnv !== undefined), 'give passwordHash or passwordEnv, not both');

const tokenSchema = z
  .object({
    name: z.string().min(1).max(100),
    user: z.string().min(1).describe('Owner: the token can never do more than this user'),
    secretHash: z
      .string()
      .regex(/^sha256:[a-f0-9]{64}$/, 'sha256:<hex of the whole token string>')
      .optional(),
    secretEnv: z.string().min(1).optional().describe('Environment variable holding the token string'),
    scopes: z.array(scope).min(1),
    namespaces: z.array(namespace).min(1),
    expiresAt: z.coerce.date().optional(),
  })
  .strict()
  .refine((t) => (t.secretHash === undefined) !== (t.secretEnv === undefined), 'give exactly one of secretHash or secretEnv');

/** Asymmetric JWS algorithms only: `none` and HMAC (HS*) are never accepted from an OIDC issuer. */
export const OIDC_ALGORITHMS = ['RS256', 'RS384', 'RS512', 'PS256', 'PS384', 'PS512', 'ES256', 'ES384', 'ES512', 'EdDSA'] as const;

/** https, except on loopback (tests, a local issuer): keys fetched over plain http could be swapped on the way. */
function secureUrl(u: string): boolean {
  const url = new URL(u);
  return url.protocol === 'https:' || (url.protocol === 'http:' && ['127.0.0.1', 'localhost', '[::1]'].includes(url.hostname));
}

const claimCondition = z
  .union([z.string().min(1), z.array(z.string().min(1)).min(1)])
  .describe("Exact value or glob ('*' within a path segment, '**' across '/', '?' one character); a list means any of them");

const oidcPolicySchema = z
  .object({
    claims: z
      .record(z.string().min(1), claimCondition)
      .refine((c) => Object.keys(c).length > 0, 'a policy needs at least one claim condition')
      .describe('Every condition must hold, e.g. {repository: acme/*, ref: refs/heads/main}'),
    namespace: namespace.describe('Namespace the scopes apply to'),
    scopes: z.array(scope).min(1),
  })
  .strict();

const oidcIssuerSchema = z
  .object({
    url: z.string().url().refine(secureUrl, 'https (http only on loopback)').describe('Issuer URL: the exact iss of its tokens'),
    jwksUri: z.string().url().refine(secureUrl, 'https (http only on loopback)').optional().describe('Default: jwks_uri from <url>/.well-known/openid-configuration'),
    audience: z.string().min(1).describe('Expected aud: what the CI job asks its token for, e.g. the registry URL'),
    algorithms: z.array(z.enum(OIDC_ALGORITHMS)).min(1).default([...OIDC_ALGORITHMS]),
    policies: z.array(oidcPolicySchema).min(1),
  })
  .strict();

const oidcSchema = z
  .object({
    username: z
      .string()
      .min(1)
      .default('oidc')
      .describe('The user name of an OIDC login (docker login -u oidc): with it the password is an OIDC token, never a user password'),
    issuers: z.array(oidcIssuerSchema).default([]),
    clockSkewSeconds: z.coerce.number().int().min(0).max(300).default(30).describe('Tolerance for exp, nbf and iat'),
    fetchTimeoutMs: z.coerce.number().int().min(50).max(30_000).default(2000).describe('Longest a login waits on an issuer (discovery + JWKS)'),
    jwksCacheSeconds: z.coerce.number().min(0).default(300).describe('Keys older than this are refreshed in the background; kept while the issuer is down'),
    jwksRefreshMinSeconds: z.coerce.number().min(0).default(30).describe('At most one refresh per issuer this often when a token names an unknown kid'),
    maxKeysPerIssuer: z.coerce.number().int().min(1).max(100).default(20).describe('Keys beyond this many in a JWKS are ignored'),
  })
  .strict()
  .default({});

export const authSchema = z
  .object({
    enabled: z.boolean().default(false).describe('Off: the registry is open to everyone (the embedded default)'),
    realm: z.string().url().optional().describe('Token endpoint URL in challenges; default <publicUrl or request base>/token'),
    service: z.string().min(1).default('registry').describe('Token audience (aud) and the service= of challenges'),
    issuer: z.string().min(1).default('registry').describe('iss of issued tokens'),
    tokenTtlSeconds: z.coerce.number().int().min(10).max(86400).default(300).describe('Lifetime of issued bearer tokens'),
    refreshTokenTtlSeconds: z.coerce.number().int().min(60).default(30 * 86400).describe('Lifetime of refresh (identity) tokens'),
    reloadSeconds: z.coerce
      .number()
      .min(0)
      .default(1)
      .describe('How often the credential store, signing key and htpasswd file are checked for changes (by the CLI)'),
    signingKeyFile: z.string().min(1).optional().describe('PKCS#8 PEM key; default <dataDir>/auth/signing-key.pem, generated when missing'),
    defaultVisibility: visibility.default('private').describe('Visibility of repositories under no configured namespace'),
    namespaces: z.array(namespaceSchema).default([]),
    mirrorVisibility: visibility
      .default('private')
      .describe("Visibility of mirrored content: names under an upstream's prefix (and, with a default upstream, unmatched names)"),
    users: z.array(userSchema).default([]),
    tokens: z.array(tokenSchema).default([]),
    htpasswd: z
      .object({
        file: z.string().min(1).describe('Apache htpasswd file; bcrypt entries only (htpasswd -B)'),
        access: z.array(accessSchema).default([{ namespace: '*', scopes: ['read', 'write', 'delete'] }]),
      })
      .strict()
      .optional(),
    oidc: oidcSchema.describe('Logins with OIDC tokens from CI (GitHub Actions, Buildkite, GitLab): issuers and the policies that grant access'),
    rateLimit: z
      .object({
        windowSeconds: z.coerce.number().int().positive().default(300),
        maxFailuresPerIp: z.coerce.number().int().positive().default(30),
        maxFailuresPerUser: z.coerce.number().int().positive().default(10),
      })
      .strict()
      .default({}),
  })
  .strict()
  .refine((a) => a.oidc.issuers.length === 0 || !a.users.some((u) => u.name === a.oidc.username), {
    message: 'a user may not have the name of OIDC logins (auth.oidc.username)',
    path: ['users'],
  })
  .default({});

export type AuthConfig = z.infer<typeof authSchema>;
export type OidcConfig = AuthConfig['oidc'];
export type OidcIssuerConfig = OidcConfig['issuers'][number];
