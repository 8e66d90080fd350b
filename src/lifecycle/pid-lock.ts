import { randomUUID } from 'node:crypto';
import { mkdir, open, readFile, rm } from 'node:fs/promises';
import { dirname } from 'node:path';

/**
 * A lock file holding "<pid> <instance>", for processes sharing one data folder on one host (workers,
 * the admin CLI). A lock whose process is gone is taken over. Two registries in one process (tests)
 * are told apart by the instance id. Not for replicas on several hosts: use the Coordinator's leases.
 */
export class PidLock {
  private readonly me = `${process.pid} ${randomUUID()}`;
  private held = false;

  constructor(readonly path: string) {}

  get isHeld(): boolean {
    return this.held;
  }

  async tryAcquire(): Promise<boolean> {
    if (this.held) return true;
    await mkdir(dirname(this.path), { recursive: true });
    for (let attempt = 0; attempt < 2; attempt++) {
      try {
        const handle = await open(this.path, 'wx');
        try {
          await handle.writeFile(this.me);
        } finally {
          await handle.close();
        }
        this.held = true;
        return true;
      } catch (err) {
        if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw err;
      }
      const owner = await readFile(this.path, 'utf8').catch(() => '');
      if (owner !== '' && isAlive(Number(owner.split(' ')[0]))) return false;
      // Stale (its process died) or torn mid-write by a crash: take it over.
      await rm(this.path, { force: true });
    }
    return false;
  }

  /** Waits (polling) until the lock is free, up to `ms`. */
  async acquire(ms: number): Promise<boolean> {
    const deadline = Date.now() + ms;
    while (!(await this.tryAcquire())) {
      if (Date.now() > deadline) return false;
      await new Promise((r) => setTimeout(r, 100));
    }
    return true;
  }

  async owner(): Promise<number | undefined> {
    const text = await readFile(this.path, 'utf8').catch(() => '');
    const pid = Number(text.split(' ')[0]);
    return Number.isInteger(pid) && pid > 0 ? pid : undefined;
  }

  async release(): Promise<void> {
    if (!this.held) return;
    this.held = false;
    const owner = await readFile(this.path, 'utf8').catch(() => '');
    if (owner === this.me) await rm(this.path, { force: true });
  }
}

function isAlive(pid: number): boolean {
  if (!Number.isInteger(pid) || pid <= 0) return false;
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'EPERM';
  }
}
