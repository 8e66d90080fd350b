import type { FileHandle } from 'node:fs/promises';
import { Readable } from 'node:stream';
import type { BlobFill } from './blob-fill.js';

const CHUNK = 1024 * 1024;

/**
 * Streams bytes [pos, end] of a file another writer is still filling, waiting for 'progress' when it
 * catches up. Reads are positional on the fill's shared handle; backpressure is the consumer's, and
 * a slow client never slows the fill (the fill writes to disk, not to clients).
 */
export class GrowingFileReader extends Readable {
  private reading = false;
  private released = false;

  constructor(
    private readonly fill: BlobFill,
    private readonly handle: FileHandle,
    private pos: number,
    private readonly end: number,
    private readonly release: () => void,
  ) {
    super({ highWaterMark: CHUNK });
  }

  override _read(): void {
    if (this.reading) return;
    this.reading = true;
    this.pump().then(
      () => {
        this.reading = false;
      },
      (err: unknown) => {
        this.reading = false;
        this.destroy(err as Error);
      },
    );
  }

  override _destroy(err: Error | null, callback: (error?: Error | null) => void): void {
    this.finish();
    callback(err);
  }

  private async pump(): Promise<void> {
    for (;;) {
      if (this.pos > this.end) {
        this.finish();
        this.push(null);
        return;
      }
      const limit = Math.min(this.fill.available(), this.end + 1);
      // Read whole chunks while the fill runs (fewer preads competing with its writes); the tail
      // once the fill is verified or the range's end is in.
      const whole = limit - this.pos >= CHUNK || limit === this.end + 1 || this.fill.verified;
      if (this.pos < limit && whole) {
        const length = Math.min(CHUNK, limit - this.pos);
        const buffer = Buffer.allocUnsafe(length);
        const { bytesRead } = await this.handle.read(buffer, 0, length, this.pos);
        if (this.destroyed) return;
        this.pos += bytesRead;
        if (!this.push(bytesRead === length ? buffer : buffer.subarray(0, bytesRead))) return;
        continue;
      }
      if (this.fill.state === 'failed') throw this.fill.error ?? new Error('blob fill failed');
      await new Promise<void>((resolve) => this.fill.once('progress', resolve));
      if (this.destroyed) return;
    }
  }

  private finish(): void {
    if (this.released) return;
    this.released = true;
    this.release();
  }
}
