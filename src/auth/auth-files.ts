import { randomUUID } from 'node:crypto';
import { link, mkdir, open, readFile, rename, rmdir, stat, unlink } from 'node:fs/promises';
import { dirname, join } from 'node:path';

/**
 * The few files access control keeps (credential store, signing key). The same temp → fsync → rename
 * discipline as storage/atomic-file.ts, kept here because auth/ must not depend on storage/.
 */
export async function writeAtomic(target: string, data: string, mode = 0o600, verify?: (written: string) => unknown): Promise<void> {
  const tmp = await writeTemp(target, data, mode);
  try {
    // What replaces the file is first read back from disk and checked: a writer never leaves a file
    // its readers cannot parse (a bug, a full disk that truncated the write).
    if (verify) verify(await readFile(tmp, 'utf8'));
    await rename(tmp, target);
  } catch (err) {
    await unlink(tmp).catch(() => undefined);
    throw err;
  }
}

/** Like writeAtomic, but never replaces an existing file: two processes starting at once keep one key. */
export async function createExclusive(target: string, data: string, mode = 0o600): Promise<boolean> {
  const tmp = await writeTemp(target, data, mode);
  try {
    await link(tmp, target);
    return true;
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'EEXIST') return false;
    throw err;
  } finally {
    await unlink(tmp).catch(() => undefined);
  }
}

async function writeTemp(target: string, data: string, mode: number): Promise<string> {
  await mkdir(dirname(target), { recursive: true, mode: 0o700 });
  const tmp = join(dirname(target), `.${randomUUID()}.tmp`);
  const handle = await open(tmp, 'w', mode);
  try {
    await handle.writeFile(data);
    await handle.sync();
  } finally {
    await handle.close();
  }
  return tmp;
}

/** Serializes read-modify-write cycles of one file between processes (the CLI and a second CLI). */
export async function withFileLock<T>(target: string, fn: () => Promise<T>, timeoutMs = 10_000): Promise<T> {
  const lock = `${target}.lock`;
  await mkdir(dirname(target), { recursive: true, mode: 0o700 });
  const started = Date.now();
  for (;;) {
    try {
      await mkdir(lock);
      break;
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw err;
      // A lock older than the timeout belongs to a process that died holding it.
      const age = await stat(lock).then((s) => Date.now() - s.mtimeMs, () => 0);
      if (age > timeoutMs) await rmdir(lock).catch(() => undefined);
      else if (Date.now() - started > timeoutMs) throw new Error(`timed out waiting for ${lock}`);
      else await new Promise((r) => setTimeout(r, 25));
    }
  }
  try {
    return await fn();
  } finally {
    await rmdir(lock).catch(() => undefined);
  }
}

/**
 * Re-reads a file only when it changed on disk, and checks at most every `intervalMs`: the server sees
 * what the CLI wrote (a revocation, a rotated key) without a read per request.
 */
export class WatchedFile<T> {
  private cached?: { value: T; mtimeMs: number; size: number; ino: number };
  private checkedAt = -Infinity;
  private pending?: Promise<T>;
  /** The version of the file last found unreadable, so it is reported once, not at every check. */
  private bad?: { mtimeMs: number; size: number; ino: number };

  constructor(
    readonly path: string,
    private readonly parse: (text: string | undefined) => T | Promise<T>,
    private readonly intervalMs = 1000,
    /** Told when a changed file cannot be parsed while a good copy is held (which stays in use). */
    private readonly onBadReload?: (err: Error) => void,
  ) {}

  async get(): Promise<T> {
    if (this.cached && Date.now() - this.checkedAt < this.intervalMs) return this.cached.value;
    this.pending ??= this.refresh().finally(() => {
      this.pending = undefined;
    });
    return this.pending;
  }

  /** Forgets the cached copy (after this process wrote the file itself). */
  invalidate(): void {
    this.checkedAt = -Infinity;
    this.cached = undefined;
  }

  private async refresh(): Promise<T> {
    const info = await stat(this.path).catch((err: NodeJS.ErrnoException) => {
      if (err.code === 'ENOENT') return undefined;
      throw err;
    });
    this.checkedAt = Date.now();
    const c = this.cached;
    if (c && info && c.mtimeMs === info.mtimeMs && c.size === info.size && c.ino === info.ino) return c.value;
    const seen = { mtimeMs: info?.mtimeMs ?? -1, size: info?.size ?? -1, ino: info?.ino ?? -1 };
    let value: T;
    try {
      const text = info ? await readFile(this.path, 'utf8') : undefined;
      value = await this.parse(text);
    } catch (err) {
      // At start there is nothing to fall back on: the caller fails. Later, a corrupt or half-edited file
      // must not lock everyone out: keep serving the last good copy, report once per change of the file.
      if (!c || !this.onBadReload) throw err;
      if (!this.bad || this.bad.mtimeMs !== seen.mtimeMs || this.bad.size !== seen.size || this.bad.ino !== seen.ino) {
        this.bad = seen;
        this.onBadReload(err as Error);
      }
      return c.value;
    }
    this.bad = undefined;
    this.cached = { value, ...seen };
    return value;
  }
}
