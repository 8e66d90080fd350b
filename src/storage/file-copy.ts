import type { FileHandle } from 'node:fs/promises';
import type { Writable } from 'node:stream';

/** Copies an open blob file into a Writable (an HTTP response); owns and closes the handle. */
export type BlobCopy = (dest: Writable) => Promise<void>;

const CHUNK = 1024 * 1024;
/** Buffers in flight per transfer: one being read while up to two are with the socket. */
const BUFFERS = 3;

/**
 * Why not `createReadStream().pipe(res)`: a read stream allocates a fresh 1 MiB buffer for every read, so
 * each chunk costs a malloc, page faults on first touch and later a GC, and the read waits for 'drain'.
 * Recycling three buffers (each handed back when the socket's write callback says the kernel has the bytes)
 * measured ~1.4x the blob GET throughput on loopback, and memory stays at 3 MiB per transfer whatever the
 * blob size; the buffer count is the backpressure.
 */
export function fileCopy(handle: FileHandle, start: number, end: number): BlobCopy {
  return async (dest) => {
    const length = end - start + 1;
    const size = Math.min(CHUNK, Math.max(length, 1));
    const free: Buffer[] = [];
    let allocated = 0;
    let failure: Error | undefined;
    let wake: (() => void) | undefined;
    let rejectEnd: ((err: Error) => void) | undefined;
    const signal = () => {
      const w = wake;
      wake = undefined;
      w?.();
    };
    const onClose = () => {
      failure ??= new Error('destination closed before the blob was sent');
      signal();
      rejectEnd?.(failure);
    };
    dest.once('close', onClose);
    try {
      let pos = start;
      while (pos <= end) {
        if (free.length === 0 && allocated < BUFFERS) {
          free.push(Buffer.allocUnsafeSlow(size));
          allocated++;
        }
        while (free.length === 0 && !failure) await new Promise<void>((resolve) => (wake = resolve));
        if (failure) throw failure;
        const buf = free.pop()!;
        const { bytesRead } = await handle.read(buf, 0, Math.min(size, end - pos + 1), pos);
        if (bytesRead === 0) throw new Error('blob file shorter than its recorded size');
        pos += bytesRead;
        if (failure) throw failure;
        dest.write(bytesRead === buf.length ? buf : buf.subarray(0, bytesRead), (err) => {
          if (err) {
            failure ??= err;
            rejectEnd?.(failure);
          }
          free.push(buf);
          signal();
        });
      }
      if (failure) throw failure;
      await new Promise<void>((resolve, reject) => {
        // An HTTP response never calls end's callback when the client hangs up; 'close' rejects instead.
        rejectEnd = reject;
        dest.end(() => (failure ? reject(failure) : resolve()));
      });
    } finally {
      dest.off('close', onClose);
      await handle.close();
    }
  };
}
