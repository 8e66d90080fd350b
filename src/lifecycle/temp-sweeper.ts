import { stat } from 'node:fs/promises';
import { join } from 'node:path';
import type { Logger } from 'pino';
import type { Metrics } from '../metrics/metrics.js';
import { listDirOrEmpty, unlinkQuietly } from '../storage/atomic-file.js';
import { ownerAlive, tempOwner } from '../storage/temp-files.js';

export interface TempSweeperDeps {
  tmpDir: string;
  logger: Logger;
  metrics: Metrics;
  /** Files whose name carries no owner (written by a version before owners) go after this long. */
  unownedGraceMs?: number;
}

/**
 * Removes temp files no live process owns: what a SIGKILLed mirror fill, upload or index write left
 * behind. Ownership is by process, read from the file's name (storage/temp-files.ts: pid plus the
 * process's start time), never by age: a 200 MB fill of a live worker may be hours old, and a killed
 * one seconds old. Runs at start and then periodically; any worker may run it over a shared data
 * folder, since it only removes files whose writer is provably gone.
 */
export class TempSweeper {
  private timer: NodeJS.Timeout | undefined;

  constructor(private readonly deps: TempSweeperDeps) {}

  /** One pass; returns how many files were removed. */
  async sweep(now = Date.now()): Promise<number> {
    const { tmpDir, logger, metrics } = this.deps;
    const grace = this.deps.unownedGraceMs ?? 3600_000;
    const removed: string[] = [];
    for (const name of await listDirOrEmpty(tmpDir)) {
      const path = join(tmpDir, name);
      const owner = tempOwner(name);
      if (owner) {
        if (await ownerAlive(owner)) continue;
      } else {
        const s = await stat(path).catch(() => undefined);
        if (!s?.isFile() || now - s.mtimeMs < grace) continue;
      }
      const s = await stat(path).catch(() => undefined);
      if (!s?.isFile()) continue;
      await unlinkQuietly(path);
      removed.push(name);
    }
    if (removed.length > 0) {
      metrics.storeTempFilesSwept.inc(removed.length);
      logger.info({ tmpDir, removed: removed.slice(0, 20), count: removed.length }, 'removed temp files left by processes that are gone');
    }
    return removed.length;
  }

  /** Sweeps now (awaited, so a restart never starts on a disk full of leftovers) and every `intervalMs`. */
  async start(intervalMs: number): Promise<void> {
    await this.sweep().catch((err: unknown) => this.deps.logger.warn({ err }, 'temp sweep failed'));
    this.timer = setInterval(() => void this.sweep().catch((err: unknown) => this.deps.logger.warn({ err }, 'temp sweep failed')), intervalMs);
    this.timer.unref();
  }

  stop(): void {
    clearInterval(this.timer);
  }
}
