import { mkdir, rename } from 'node:fs/promises';
import { join, relative, sep } from 'node:path';
import { isNotFound } from './atomic-file.js';
import type { Layout } from './layout.js';

/**
 * Corrupt content is moved aside, never deleted: an operator can inspect it, compare it with a good
 * copy or restore it. Everything lands in <dataDir>/quarantine/ under a name that says when it was
 * moved and where it came from (its path under the data folder, '/' as '~').
 */
export function quarantineDir(layout: Layout): string {
  return join(layout.root, 'quarantine');
}

/**
 * Moves `path` (a file under the data folder) into quarantine; returns where it went, or undefined
 * when it was already gone (another reader quarantined it first).
 */
export async function quarantineFile(layout: Layout, path: string, now = Date.now()): Promise<string | undefined> {
  const dir = quarantineDir(layout);
  const origin = relative(layout.root, path).split(sep).join('~');
  const target = join(dir, `${new Date(now).toISOString().replace(/[:.]/g, '-')}-${origin}`);
  try {
    await rename(path, target);
  } catch (err) {
    if (isNotFound(err)) {
      try {
        await mkdir(dir, { recursive: true });
        await rename(path, target);
      } catch (again) {
        if (isNotFound(again)) return undefined;
        throw again;
      }
    } else {
      throw err;
    }
  }
  return target;
}
