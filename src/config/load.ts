import { readFile } from 'node:fs/promises';
import { ZodArray, ZodDefault, ZodEffects, ZodError, ZodNullable, ZodObject, ZodOptional, ZodString, type ZodTypeAny } from 'zod';
import { resolveMetricsTokenEnv } from './metrics-schema.js';
import { configSchema, type Config, type ConfigInput } from './schema.js';

export class ConfigError extends Error {
  override name = 'ConfigError';
}

/** Plain variables the README promises, mapped onto config paths. */
const SHORTCUTS: Record<string, string[]> = {
  PORT: ['server', 'port'],
  HOST: ['server', 'host'],
  DATA_DIR: ['storage', 'dataDir'],
  LOG_LEVEL: ['log', 'level'],
  REDIS_URL: ['cache', 'redisUrl'],
};
const ENV_PREFIX = 'REGISTRY_';

/**
 * Reads the YAML file (if any), overlays the environment and validates.
 * `REGISTRY_STORAGE__DELETE_ENABLED=false` sets storage.deleteEnabled: `__` separates levels,
 * `_` inside a level becomes camelCase; values are read as YAML scalars (so lists and booleans work).
 */
export async function loadConfig(options: { file?: string; env?: NodeJS.ProcessEnv } = {}): Promise<Config> {
  const env = options.env ?? {};
  // yaml is loaded only when something needs it (a config file, or an env value that is not a plain
  // word or integer): an `npm start` on defaults stays lighter (idle memory, start-up time). A string
  // setting takes its variable verbatim (envValue), so HOST=127.0.0.1 or DATA_DIR=/srv/a:b need no yaml.
  const settings = configEnv(env);
  const needsYaml = options.file !== undefined || settings.some(([path, value]) => !stringSetting(path) && plainScalar(value) === undefined);
  const parseYaml: YamlParse = needsYaml ? (await import('yaml')).parse : () => undefined;
  let raw: Record<string, unknown> = {};
  if (options.file) {
    let text: string;
    try {
      text = await readFile(options.file, 'utf8');
    } catch (err) {
      throw new ConfigError(`cannot read config file ${options.file}: ${(err as Error).message}`);
    }
    try {
      raw = (parseYaml(text) as Record<string, unknown> | null) ?? {};
    } catch (err) {
      throw new ConfigError(`config file ${options.file} is not valid YAML: ${(err as Error).message}`);
    }
  }
  for (const [path, value] of settings) setPath(raw, path, envValue(path, value, parseYaml));
  const tokenProblem = resolveMetricsTokenEnv(raw, env);
  if (tokenProblem) throw new ConfigError(`invalid configuration:\n  ${tokenProblem}`);
  return parseConfig(raw);
}

export function parseConfig(raw: ConfigInput | Record<string, unknown>): Config {
  try {
    return deepFreeze(configSchema.parse(raw));
  } catch (err) {
    if (err instanceof ZodError) {
      const lines = err.issues.map((i) => {
        const key = i.path.join('.') || '(root)';
        const extra = i.code === 'unrecognized_keys' ? ` (${i.keys.map((k) => `${key === '(root)' ? '' : `${key}.`}${k}`).join(', ')})` : '';
        return `${key}: ${i.message}${extra}`;
      });
      throw new ConfigError(`invalid configuration:\n  ${lines.join('\n  ')}`);
    }
    throw err;
  }
}

type YamlParse = (text: string) => unknown;

/** The variables that set configuration, with the config path each one sets. */
function configEnv(env: NodeJS.ProcessEnv): Array<[string[], string]> {
  const out: Array<[string[], string]> = [];
  for (const [name, value] of Object.entries(env)) {
    if (value === undefined) continue;
    const shortcut = SHORTCUTS[name];
    if (shortcut) out.push([shortcut, value]);
    else if (name.startsWith(ENV_PREFIX) && name !== 'REGISTRY_CONFIG') out.push([name.slice(ENV_PREFIX.length).split('__').map(toCamel), value]);
  }
  return out;
}

function toCamel(segment: string): string {
  if (/^\d+$/.test(segment)) return segment;
  return segment.toLowerCase().replace(/_([a-z0-9])/g, (_m, c: string) => c.toUpperCase());
}

/**
 * A string setting takes the variable verbatim: read as YAML, DATA_DIR=2024 would become a number
 * and DATA_DIR='/srv/a: b' a map, and both would then fail validation.
 */
function envValue(path: readonly string[], value: string, parseYaml: YamlParse): unknown {
  if (stringSetting(path)) return value;
  const plain = plainScalar(value);
  return plain ? plain.value : parseScalar(value, parseYaml);
}

/**
 * What YAML would read from a plain word or integer, without loading YAML; undefined for anything
 * else (floats, quotes, lists, maps, YAML's other spellings of booleans and null), which YAML reads.
 */
function plainScalar(value: string): { value: unknown } | undefined {
  if (/^-?(0|[1-9][0-9]{0,14})$/.test(value)) return { value: Number(value) };
  if (value === 'true' || value === 'false') return { value: value === 'true' };
  if (/^(true|false|null)$/i.test(value)) return undefined;
  if (/^[A-Za-z_/][A-Za-z0-9_./@+-]*$/.test(value)) return { value };
  return undefined;
}

function stringSetting(path: readonly string[]): boolean {
  return schemaAt(configSchema, path) instanceof ZodString;
}

/** The schema node a config path leads to, wrappers (default, optional, refinements) removed. */
function schemaAt(schema: ZodTypeAny, path: readonly string[]): ZodTypeAny | undefined {
  let node: ZodTypeAny | undefined = unwrap(schema);
  for (const key of path) {
    if (node instanceof ZodObject) node = (node.shape as Record<string, ZodTypeAny>)[key];
    else if (node instanceof ZodArray && /^\d+$/.test(key)) node = node.element as ZodTypeAny;
    else return undefined;
    node = node && unwrap(node);
  }
  return node;
}

function unwrap(schema: ZodTypeAny): ZodTypeAny {
  let node = schema;
  for (;;) {
    if (node instanceof ZodDefault) node = node._def.innerType as ZodTypeAny;
    else if (node instanceof ZodOptional || node instanceof ZodNullable) node = node.unwrap() as ZodTypeAny;
    else if (node instanceof ZodEffects) node = node.innerType() as ZodTypeAny;
    else return node;
  }
}

function parseScalar(value: string, parseYaml: YamlParse): unknown {
  try {
    return parseYaml(value) ?? value;
  } catch {
    return value;
  }
}

function setPath(target: Record<string, unknown>, path: string[], value: unknown): void {
  let node: Record<string, unknown> = target;
  for (const [i, key] of path.entries()) {
    if (i === path.length - 1) {
      node[key] = value;
      return;
    }
    const next = node[key];
    if (typeof next !== 'object' || next === null) {
      const child: Record<string, unknown> = /^\d+$/.test(path[i + 1]!) ? ([] as unknown as Record<string, unknown>) : {};
      node[key] = child;
      node = child;
    } else node = next as Record<string, unknown>;
  }
}

function deepFreeze<T>(value: T): T {
  if (typeof value === 'object' && value !== null && !Object.isFrozen(value)) {
    Object.freeze(value);
    for (const v of Object.values(value)) deepFreeze(v);
  }
  return value;
}
