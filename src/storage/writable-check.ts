import { open, statfs } from 'node:fs/promises';
import { unlinkQuietly } from './atomic-file.js';
import type { Layout } from './layout.js';
import { tempPath } from './temp-files.js';

/**
 * Proves the data folder accepts writes the way every commit does: a file created, written and
 * fsynced in tmp/, then removed. A full disk, a read-only mount or a broken tmp/ all fail here.
 */
export async function checkStoreWritable(layout: Layout): Promise<void> {
  const path = tempPath(layout.tmpDir, 'readyz');
  try {
    const handle = await open(path, 'wx');
    try {
      await handle.writeFile('ok');
      await handle.sync();
    } finally {
      await handle.close();
    }
  } finally {
    await unlinkQuietly(path);
  }
}

/** Bytes available to this (unprivileged) process on the data folder's filesystem. */
export async function freeBytes(layout: Layout): Promise<number> {
  const fs = await statfs(layout.root);
  return fs.bavail * fs.bsize;
}

/**
 * Fails when free space is under `floor` bytes: a store that can take one more small write but not
 * the next layer is not ready for traffic, and an orchestrator should send pushes elsewhere first.
 */
export async function checkFreeSpace(layout: Layout, floor: number): Promise<void> {
  if (floor <= 0) return;
  const free = await freeBytes(layout);
  if (free < floor) throw new Error(`free space ${free} bytes is under the floor storage.minFreeBytes=${floor}`);
}
