import { open, type FileHandle } from 'node:fs/promises';
import type { Readable } from 'node:stream';

/** Socket chunks (≤ 64 KiB) are written in batches of about this size: fewer syscalls and thread-pool hops. */
const BATCH = 1024 * 1024;
/** Received bytes not yet written before the body is left unread: the memory bound per upload. */
const MAX_UNWRITTEN = 4 * BATCH;
/** After this many bytes written, the data written so far is flushed to disk in the background. */
const SYNC_EVERY = 8 * BATCH;

/**
 * Appends a request body to a file, calling `onChunk` with each chunk in order as it arrives (the
 * running digest), and returns the number of bytes appended.
 *
 * Durability is the caller's (an fsync before the blob becomes visible), but that fsync need not flush
 * the whole body at the end: every SYNC_EVERY bytes a datasync starts in the background (at most one at
 * a time, never awaited by the receive loop), so the dirty pages go to disk while the upload streams —
 * what sync_file_range(2) would do — and the final fsync finds little left. Writes are batched and
 * overlap receiving: one batch is written while the next arrives.
 */
export async function appendBody(path: string, body: Readable, onChunk: (chunk: Buffer) => void): Promise<number> {
  const handle = await open(path, 'a');
  let writing: Promise<void> = Promise.resolve();
  let syncing: Promise<void> | undefined;
  let received = 0;
  let written = 0;
  let syncedAt = 0;
  let batch: Buffer[] = [];
  let batched = 0;
  const flush = async () => {
    if (batched === 0) return;
    const chunks = batch;
    const length = batched;
    batch = [];
    batched = 0;
    if (received - written > MAX_UNWRITTEN) await writing;
    writing = writing.then(() => writeAll(handle, chunks, length)).then(() => {
      written += length;
      if (written - syncedAt >= SYNC_EVERY && !syncing) {
        syncedAt = written;
        syncing = handle.datasync().then(
          () => (syncing = undefined),
          () => (syncing = undefined), // the caller's final fsync reports any real failure
        );
      }
    });
    writing.catch(() => undefined);
  };
  try {
    try {
      for await (const chunk of body as AsyncIterable<Buffer>) {
        onChunk(chunk);
        received += chunk.length;
        batch.push(chunk);
        batched += chunk.length;
        if (batched >= BATCH) await flush();
      }
    } finally {
      // A body cut midway keeps what arrived, as a write stream would: the client may resume from there.
      await flush();
    }
    await writing;
    return written;
  } finally {
    // Nothing may still run on the handle when it closes (a failed body included).
    await writing.catch(() => undefined);
    await syncing;
    await handle.close();
  }
}

/** writev until every byte is in (a short write on a regular file is rare, but possible). */
async function writeAll(handle: FileHandle, chunks: Buffer[], length: number): Promise<void> {
  let { bytesWritten } = await handle.writev(chunks);
  while (bytesWritten < length) {
    const rest = Buffer.concat(chunks).subarray(bytesWritten);
    const more = await handle.write(rest);
    if (more.bytesWritten === 0) throw new Error('no progress writing an upload');
    bytesWritten += more.bytesWritten;
  }
}
