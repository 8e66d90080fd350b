import { OciError } from '../oci/errors.js';
import { isValidName } from '../oci/names.js';

/**
 * Repository names contain '/', so the pages and the API put a '-' segment between the name and what
 * follows (no name component can be '-'): /repositories/acme/app/-/images/v1.
 */
export function splitRepositoryPath(rest: string): { name: string; sub: string[] } {
  const parts = rest.split('/').filter((p, i, all) => p !== '' || i < all.length - 1);
  const dash = parts.indexOf('-');
  const nameParts = dash < 0 ? parts : parts.slice(0, dash);
  const sub = dash < 0 ? [] : parts.slice(dash + 1);
  let name: string;
  try {
    name = nameParts.map((p) => decodeURIComponent(p)).join('/');
    sub.forEach((p, i) => (sub[i] = decodeURIComponent(p)));
  } catch {
    throw notFound();
  }
  if (!isValidName(name)) throw notFound();
  return { name, sub };
}

export function notFound(): OciError {
  return new OciError('NAME_UNKNOWN', 'repository name not known to registry');
}

/** Encodes a name for a URL path, keeping its '/' separators. */
export function namePath(name: string): string {
  return name.split('/').map(encodeURIComponent).join('/');
}

export function intParam(v: unknown, fallback: number, max: number): number {
  if (typeof v !== 'string' || !/^\d{1,9}$/.test(v)) return fallback;
  return Math.min(Number(v), max);
}

export function stringParam(v: unknown, maxLength = 256): string | undefined {
  return typeof v === 'string' && v !== '' ? v.slice(0, maxLength) : undefined;
}
