import { randomUUID } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';

/**
 * Temp files carry their owner in their name, `<pid>.<start>-<uuid>.<ext>`, so a sweeper can tell the
 * files of a live process (this one, another worker on the same data folder) from those a killed one
 * left behind. `start` is the process's start time in clock ticks since boot (/proc/<pid>/stat field
 * 22): a restarted container gets the same pid (often 1) but never the same start time, so "pid alive"
 * alone would keep a killed predecessor's files forever.
 */
export interface TempOwner {
  pid: number;
  start: string;
}

const OWNED = /^(\d+)\.(\d+|x)-[0-9a-f-]{36}\./;

/** This process, read once: an immutable fact, not state. */
const SELF: TempOwner = { pid: process.pid, start: startTimeSync(process.pid) };

export function selfOwner(): TempOwner {
  return SELF;
}

/** A fresh temp file path in `tmpDir` owned by this process. */
export function tempPath(tmpDir: string, ext: string): string {
  return join(tmpDir, `${SELF.pid}.${SELF.start}-${randomUUID()}.${ext}`);
}

/** The owner written into a temp file's name; undefined for names without one (older versions, strays). */
export function tempOwner(name: string): TempOwner | undefined {
  const m = OWNED.exec(name);
  return m ? { pid: Number(m[1]), start: m[2]! } : undefined;
}

/** Whether the process that wrote a temp file still runs (the same process, not a reused pid). */
export async function ownerAlive(owner: TempOwner): Promise<boolean> {
  if (owner.pid === SELF.pid && owner.start === SELF.start) return true;
  if (owner.start !== 'x') {
    try {
      return (await startTime(owner.pid)) === owner.start;
    } catch {
      return false; // no /proc/<pid>: that process is gone
    }
  }
  // No start time recorded (no /proc where it ran): fall back to a signal-0 probe of the pid.
  try {
    process.kill(owner.pid, 0);
    return true;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'EPERM';
  }
}

async function startTime(pid: number): Promise<string> {
  return parseStart(await readFile(`/proc/${pid}/stat`, 'utf8'));
}

function startTimeSync(pid: number): string {
  try {
    return parseStart(readFileSync(`/proc/${pid}/stat`, 'utf8'));
  } catch {
    return 'x';
  }
}

/** Field 22 of /proc/<pid>/stat; the command name (field 2) may hold spaces and parentheses. */
function parseStart(stat: string): string {
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  const start = fields[19];
  if (!start || !/^\d+$/.test(start)) throw new Error('unexpected /proc/<pid>/stat format');
  return start;
}
