import type { Config } from '../config/schema.js';
import { fsck, type Problem } from '../lifecycle/fsck.js';
import { FsMetadataIndex } from '../metadata/fs-metadata-index.js';
import { systemClock } from '../oci/types.js';
import { createStorage } from '../storage/create-storage.js';
import { Layout } from '../storage/layout.js';

export interface FsckIo {
  out(line: string): void;
  readonly env: Readonly<Record<string, string | undefined>>;
}

/**
 * `registry-admin fsck [--repair] [--json]`: one line per problem (kind, file under the data folder,
 * detail, and what --repair did), then a summary. Throws (exit code 1) when problems remain.
 */
export async function fsckCommand(config: Config, dataDir: string, options: { repair: boolean; json: boolean }, io: FsckIo): Promise<void> {
  const layout = new Layout(dataDir);
  const { blobs } = await createStorage({ ...config.storage, dataDir }, layout, systemClock, io.env);
  const line = (p: Problem) => `${p.kind}\t${p.file}\t${p.detail}${p.repaired ? `\t→ ${p.repaired}` : ''}`;
  const report = await fsck({ layout, blobs, index: new FsMetadataIndex(layout), repair: options.repair, onProblem: options.json ? undefined : (p) => io.out(line(p)) });
  const remaining = report.problems.filter((p) => !p.repaired).length;
  if (options.json) {
    io.out(JSON.stringify(report, null, 2));
  } else {
    const { blobs: b, manifests, tags, links } = report.checked;
    io.out(`checked ${b} blobs, ${manifests} manifest records, ${tags} tags, ${links} blob links: ${report.problems.length} problems, ${report.problems.length - remaining} repaired`);
    if (remaining > 0 && !options.repair) io.out('run again with --repair to quarantine what is corrupt and re-link what is missing (nothing is deleted)');
  }
  if (remaining > 0) throw new Error(`${remaining} problem(s) left${options.repair ? ' that --repair cannot fix (lost content: push it again; a mirror refetches it)' : ''}`);
}
