import { mkdir, open, readdir, rename, unlink } from 'node:fs/promises';
import { dirname } from 'node:path';
import { tempPath } from './temp-files.js';

/** Writes a small file so that readers see the old content or the new, never a mix: temp → fsync → rename. */
export async function writeFileAtomic(tmpDir: string, target: string, data: string | Buffer): Promise<void> {
  const tmp = tempPath(tmpDir, 'tmp');
  const handle = await open(tmp, 'w');
  try {
    try {
      await handle.writeFile(data);
      await handle.sync();
    } finally {
      await handle.close();
    }
  } catch (err) {
    // A full disk must not also keep the half-written temp file.
    await unlinkQuietly(tmp);
    throw err;
  }
  await renameIntoPlace(tmp, target);
}

/** Renames, creating the parent folder on first use; removes the source on failure. */
export async function renameIntoPlace(source: string, target: string): Promise<void> {
  try {
    await rename(source, target);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'ENOENT') {
      await unlinkQuietly(source);
      throw err;
    }
    await mkdir(dirname(target), { recursive: true });
    try {
      await rename(source, target);
    } catch (again) {
      await unlinkQuietly(source);
      throw again;
    }
  }
}

export async function unlinkQuietly(path: string): Promise<void> {
  try {
    await unlink(path);
  } catch {
    // already gone
  }
}

export function isNotFound(err: unknown): boolean {
  const code = (err as NodeJS.ErrnoException | undefined)?.code;
  return code === 'ENOENT' || code === 'ENOTDIR';
}

/** Entries of a folder; none when it does not exist (yet). */
export async function listDirOrEmpty(path: string): Promise<string[]> {
  try {
    return await readdir(path);
  } catch (err) {
    if (isNotFound(err)) return [];
    throw err;
  }
}
