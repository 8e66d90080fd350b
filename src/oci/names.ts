import { OciError } from './errors.js';

// Grammar from the OCI distribution spec ("Pulling manifests"): path components separated by '/'.
const NAME_PATTERN = /^[a-z0-9]+(?:(?:\.|_|__|-+)[a-z0-9]+)*(?:\/[a-z0-9]+(?:(?:\.|_|__|-+)[a-z0-9]+)*)*$/;
const TAG_PATTERN = /^[a-zA-Z0-9_][a-zA-Z0-9._-]{0,127}$/;
/** Distribution's limit; keeps paths on disk well below PATH_MAX. */
export const MAX_NAME_LENGTH = 255;

export function isValidName(name: string): boolean {
  return name.length <= MAX_NAME_LENGTH && NAME_PATTERN.test(name);
}

export function parseName(name: string): string {
  if (!isValidName(name)) throw new OciError('NAME_INVALID', 'invalid repository name', { detail: { name: name.slice(0, 300) } });
  return name;
}

export function isValidTag(tag: string): boolean {
  return TAG_PATTERN.test(tag);
}

export function parseTag(tag: string): string {
  if (!isValidTag(tag)) throw new OciError('MANIFEST_INVALID', 'invalid tag', { detail: { tag: tag.slice(0, 200) } });
  return tag;
}
