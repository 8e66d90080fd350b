import type { FileHandle } from 'node:fs/promises';
import { Readable } from 'node:stream';
import type { GrowingFile } from '../storage/file-copy.js';

const CHUNK = 1024 * 1024;

/**
 * Streams bytes [pos, end] of a file another writer is still filling, waiting for progress when it
 * catches up. Bytes still in the writer's memory come from there (`peek`); older ones are read
 * positionally on the writer's shared handle. Backpressure is the consumer's, and a slow client never
 * slows the fill (the fill writes to disk, not to clients). Sees the fill only as a `GrowingFile`, so
 * it depends on the storage floor and not back on the fill.
 */
export class GrowingFileReader extends Readable {
  private reading = false;
  private released = false;

  constructor(
    private readonly source: GrowingFile,
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
      this.source.assertLive();
      const piece = this.source.peek?.(this.pos, this.end + 1);
      if (piece) {
        this.pos += piece.length;
        if (!this.push(piece)) return;
        continue;
      }
      const limit = Math.min(this.source.readable(), this.end + 1);
      // Without a tee, read whole chunks while the fill runs (fewer preads competing with its writes);
      // the tail once the fill is complete or the range's end is in.
      const whole = this.source.peek !== undefined || limit - this.pos >= CHUNK || limit === this.end + 1 || this.source.complete();
      if (this.pos < limit && whole) {
        const length = Math.min(CHUNK, limit - this.pos);
        const buffer = Buffer.allocUnsafe(length);
        const { bytesRead } = await this.handle.read(buffer, 0, length, this.pos);
        if (this.destroyed) return;
        if (bytesRead === 0) throw new Error('blob file shorter than its recorded size');
        this.pos += bytesRead;
        if (!this.push(bytesRead === length ? buffer : buffer.subarray(0, bytesRead))) return;
        continue;
      }
      await new Promise<void>((resolve) => {
        const off = this.source.onProgress(() => {
          off();
          resolve();
        });
      });
      if (this.destroyed) return;
    }
  }

  private finish(): void {
    if (this.released) return;
    this.released = true;
    this.release();
  }
}
