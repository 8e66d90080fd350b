import { randomUUID } from 'node:crypto';
import { open, unlink } from 'node:fs/promises';
import { join } from 'node:path';
import type { Layout } from './layout.js';

/**
 * Proves the data folder accepts writes the way every commit does: a file created, written and
 * fsynced in tmp/, then removed. A full disk, a read-only mount or a broken tmp/ all fail here.
 */
export async function checkStoreWritable(layout: Layout): Promise<void> {
  const path = join(layout.tmpDir, `readyz-${randomUUID()}.tmp`);
  const handle = await open(path, 'wx');
  try {
    await handle.writeFile('ok');
    await handle.sync();
  } finally {
    await handle.close();
  }
  await unlink(path);
}
