/** The config's credentials block (config/upstreams-schema.ts), restated so upstream/ needs only oci/. */
export interface CredentialsSource {
  username?: string;
  usernameEnv?: string;
  password?: string;
  passwordEnv?: string;
  token?: string;
  tokenEnv?: string;
}

/** Credentials after env-var indirection; kept out of every log line and error message. */
export interface UpstreamCredentials {
  readonly username?: string;
  readonly password?: string;
  /** A ready bearer token, sent as is. */
  readonly token?: string;
}

/**
 * Resolves `passwordEnv`-style indirections against `env`. A named variable that is unset is an error
 * at start, rather than a silent anonymous pull that fails later with a confusing 401.
 */
export function resolveCredentials(
  upstream: string,
  config: CredentialsSource | undefined,
  env: Readonly<Record<string, string | undefined>>,
): UpstreamCredentials | undefined {
  if (!config) return undefined;
  const read = (key: string | undefined, what: string): string | undefined => {
    if (key === undefined) return undefined;
    const value = env[key];
    if (value === undefined || value === '') throw new Error(`upstream ${upstream}: environment variable ${key} (${what}) is not set`);
    return value;
  };
  const username = config.username ?? read(config.usernameEnv, 'username');
  const password = config.password ?? read(config.passwordEnv, 'password');
  const token = config.token ?? read(config.tokenEnv, 'token');
  if (password !== undefined && username === undefined) throw new Error(`upstream ${upstream}: a password needs a username`);
  const out: { username?: string; password?: string; token?: string } = {};
  if (username !== undefined) out.username = username;
  if (password !== undefined) out.password = password;
  if (token !== undefined) out.token = token;
  return out;
}

export function basicAuthorization(c: UpstreamCredentials): string | undefined {
  if (c.username === undefined || c.password === undefined) return undefined;
  return `Basic ${Buffer.from(`${c.username}:${c.password}`).toString('base64')}`;
}
