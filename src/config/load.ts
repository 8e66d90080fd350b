import { readFile } from 'node:fs/promises';
import { parse as parseYaml } from 'yaml';
import { ZodError } from 'zod';
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
  applyEnv(raw, env);
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

function applyEnv(raw: Record<string, unknown>, env: NodeJS.ProcessEnv): void {
  for (const [name, value] of Object.entries(env)) {
    if (value === undefined) continue;
    const shortcut = SHORTCUTS[name];
    if (shortcut) setPath(raw, shortcut, parseScalar(value));
    else if (name.startsWith(ENV_PREFIX) && name !== 'REGISTRY_CONFIG') {
      const path = name.slice(ENV_PREFIX.length).split('__').map(toCamel);
      setPath(raw, path, parseScalar(value));
    }
  }
}

function toCamel(segment: string): string {
  if (/^\d+$/.test(segment)) return segment;
  return segment.toLowerCase().replace(/_([a-z0-9])/g, (_m, c: string) => c.toUpperCase());
}

function parseScalar(value: string): unknown {
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
