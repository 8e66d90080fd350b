import type { Config } from '../config/schema.js';
import { Lifecycle } from '../lifecycle/lifecycle.js';
import { createLogger } from '../log.js';
import { FsMetadataIndex } from '../metadata/fs-metadata-index.js';
import { systemClock, type Clock } from '../oci/types.js';
import { createStorage } from '../storage/create-storage.js';
import { Layout } from '../storage/layout.js';

export interface LifecycleIo {
  out(line: string): void;
  readonly env: Readonly<Record<string, string | undefined>>;
  now?(): number;
}

/** The lifecycle over a data folder, for one command: no timers, no leader lock (runs still wait for run.lock). */
async function open(config: Config, dataDir: string, io: LifecycleIo): Promise<Lifecycle> {
  const layout = new Layout(dataDir);
  const clock: Clock = io.now ? { now: io.now } : systemClock;
  const { blobs, uploads } = await createStorage({ ...config.storage, dataDir }, layout, clock, io.env);
  return new Lifecycle({ config, dataDir, tmpDir: layout.tmpDir, index: new FsMetadataIndex(layout), blobs, uploads, clock, logger: createLogger('silent'), schedule: false });
}

/** `registry-admin gc [--dry-run] [--json]`: reclaims unreferenced blobs and abandoned uploads while the registry runs. */
export async function gcCommand(config: Config, dataDir: string, options: { dryRun: boolean; json: boolean }, io: LifecycleIo): Promise<void> {
  const lifecycle = await open(config, dataDir, io);
  try {
    const report = (await lifecycle.runGc({ dryRun: options.dryRun }))!;
    if (options.json) {
      io.out(JSON.stringify(report, null, 2));
      return;
    }
    for (const b of report.reclaimed) io.out(`${options.dryRun ? 'would reclaim' : 'reclaimed'}\t${b.digest}\t${b.size}`);
    const verb = options.dryRun ? 'would reclaim' : 'reclaimed';
    io.out(
      `${verb} ${report.blobs} blobs, ${report.bytes} bytes (${formatBytes(report.bytes)}); ${report.links} dangling links removed; ` +
        `${report.uploads} abandoned uploads; ${report.trashExpired} trash entries expired; kept ${report.kept.grace} in grace period, ${report.kept['in-flight'] + report.kept.touched} in use`,
    );
  } finally {
    await lifecycle.close();
  }
}

/** `registry-admin restore <repo>:<tag> | <repo>@<digest>`. */
export async function restoreCommand(config: Config, dataDir: string, ref: string, io: LifecycleIo): Promise<void> {
  const lifecycle = await open(config, dataDir, io);
  try {
    if (!lifecycle.trash.enabled) throw new Error('storage.trashDays is 0: deletes are final, nothing is restorable');
    const result = await lifecycle.restore(ref);
    io.out(`restored ${result.entry.repo}@${result.entry.digest}${result.tags.length ? ` with tag(s) ${result.tags.join(', ')}` : ''}`);
    if (result.skipped.length) io.out(`left alone (pushed again since): ${result.skipped.join(', ')}`);
  } finally {
    await lifecycle.close();
  }
}

/** `registry-admin trash list [--json]`: what can be restored, newest last. */
export async function trashListCommand(config: Config, dataDir: string, options: { json: boolean }, io: LifecycleIo): Promise<void> {
  const lifecycle = await open(config, dataDir, io);
  try {
    const entries = await lifecycle.trash.list();
    if (options.json) {
      io.out(JSON.stringify(entries.map(({ record: _r, ...e }) => ({ ...e, expiresAt: new Date(e.deletedAt + lifecycle.trash.windowMs).toISOString() })), null, 2));
      return;
    }
    for (const e of entries) {
      const what = e.kind === 'tag' ? `${e.repo}:${e.tags[0]}` : `${e.repo}@${e.digest}`;
      io.out(`${what}\t${e.kind}\t${e.kind === 'manifest' ? e.tags.join(',') || '-' : e.digest}\tdeleted ${new Date(e.deletedAt).toISOString()}\texpires ${new Date(e.deletedAt + lifecycle.trash.windowMs).toISOString()}`);
    }
    if (entries.length === 0) io.out('nothing restorable');
  } finally {
    await lifecycle.close();
  }
}

function formatBytes(n: number): string {
  const units = ['B', 'KiB', 'MiB', 'GiB', 'TiB'];
  let i = 0;
  while (n >= 1024 && i < units.length - 1) {
    n /= 1024;
    i++;
  }
  return `${n.toFixed(i === 0 ? 0 : 1)} ${units[i]}`;
}
