import { FsBlobStore } from '../../src/storage/fs-blob-store.js';
import { Layout } from '../../src/storage/layout.js';
import { tmpDir } from './registry.js';

/** Shared setup for the storage unit tests. */

/** An initialised FsBlobStore over a fresh temp folder (`root`); the caller removes `root`. */
export async function tempBlobStore(prefix: string): Promise<{ root: string; layout: Layout; blobs: FsBlobStore }> {
  const root = await tmpDir(prefix);
  const layout = new Layout(root);
  const blobs = new FsBlobStore(layout);
  await blobs.init();
  return { root, layout, blobs };
}

/** What `p` rejects with; throws when it resolves instead. */
export async function rejection(p: Promise<unknown>): Promise<unknown> {
  try {
    await p;
  } catch (err) {
    return err;
  }
  throw new Error('expected a rejection');
}
