import { randomUUID } from 'node:crypto';
import { createReadStream, createWriteStream } from 'node:fs';
import { mkdir, open, readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { once } from 'node:events';
import { digestParts, type Digest } from '../oci/digest.js';
import { isNotFound, renameIntoPlace, unlinkQuietly, writeFileAtomic } from '../storage/atomic-file.js';
import type { Checksums, DownloadCount, FileEntry, ImageFactsStore, LayerFacts, LayerFactsWriter } from './image-facts-store.js';

/**
 * ImageFactsStore as files under `<dataDir>/facts`:
 *
 *   checksums/<alg>/<hex>.json        the four checksums of a manifest
 *   layers/<alg>/<hex>.json           LayerFacts (written last: its presence means the list is complete)
 *   layers/<alg>/<hex>.files          the file list, one JSON entry per line, in tar order
 *   downloads/<repo>/_counts.json     { digest: count } of one repository
 *
 * Every file appears by rename from tmp/, so a reader sees a whole file or none. The file list is
 * streamed to its temp file while the layer is read, never held in memory whole.
 */
export class FsImageFactsStore implements ImageFactsStore {
  /** One download flush at a time per store: read-modify-write of the count files must not interleave. */
  private flushing: Promise<void> = Promise.resolve();

  constructor(
    private readonly root: string,
    private readonly tmpDir: string,
  ) {}

  async getChecksums(d: Digest): Promise<Checksums | undefined> {
    return readJson<Checksums>(this.path('checksums', d, '.json'));
  }

  async putChecksums(d: Digest, checksums: Checksums): Promise<void> {
    await writeFileAtomic(this.tmpDir, this.path('checksums', d, '.json'), JSON.stringify(checksums));
  }

  async getLayer(d: Digest): Promise<LayerFacts | undefined> {
    return readJson<LayerFacts>(this.path('layers', d, '.json'));
  }

  async beginLayer(d: Digest): Promise<LayerFactsWriter> {
    await mkdir(this.tmpDir, { recursive: true });
    const tmp = join(this.tmpDir, `${randomUUID()}.files`);
    const out = createWriteStream(tmp, { highWaterMark: 256 * 1024 });
    let failed: Error | undefined;
    out.on('error', (err) => (failed = err));
    const filesPath = this.path('layers', d, '.files');
    const factsPath = this.path('layers', d, '.json');
    const close = async () => {
      if (!out.closed) {
        out.end();
        await once(out, 'close').catch(() => undefined);
      }
    };
    return {
      write: async (entry) => {
        if (failed) throw failed;
        if (!out.write(`${JSON.stringify(entry)}\n`)) await once(out, 'drain');
      },
      commit: async (facts) => {
        await close();
        if (failed) throw failed;
        // Durable before it becomes visible, as every other write into the data folder.
        const handle = await open(tmp, 'r+');
        try {
          await handle.sync();
        } finally {
          await handle.close();
        }
        await renameIntoPlace(tmp, filesPath);
        await writeFileAtomic(this.tmpDir, factsPath, JSON.stringify(facts));
      },
      abort: async () => {
        await close();
        await unlinkQuietly(tmp);
      },
    };
  }

  async listFiles(d: Digest, offset: number, limit: number): Promise<FileEntry[]> {
    const stream = createReadStream(this.path('layers', d, '.files'), { encoding: 'utf8' });
    const out: FileEntry[] = [];
    try {
      const lines = createInterface({ input: stream, crlfDelay: Infinity });
      let i = 0;
      for await (const line of lines) {
        if (line === '') continue;
        if (i++ < offset) continue;
        out.push(JSON.parse(line) as FileEntry);
        if (out.length >= limit) break;
      }
    } catch (err) {
      if (isNotFound(err)) return [];
      throw err;
    } finally {
      stream.destroy();
    }
    return out;
  }

  addDownloads(batch: readonly DownloadCount[]): Promise<void> {
    const run = this.flushing.then(() => this.writeDownloads(batch));
    this.flushing = run.catch(() => undefined);
    return run;
  }

  async downloads(repo: string): Promise<{ total: number; byDigest: Record<string, number> }> {
    const byDigest = (await readJson<Record<string, number>>(this.countsPath(repo))) ?? {};
    return { total: Object.values(byDigest).reduce((a, b) => a + b, 0), byDigest };
  }

  private async writeDownloads(batch: readonly DownloadCount[]): Promise<void> {
    const byRepo = new Map<string, DownloadCount[]>();
    for (const c of batch) byRepo.set(c.repo, [...(byRepo.get(c.repo) ?? []), c]);
    for (const [repo, counts] of byRepo) {
      const path = this.countsPath(repo);
      const current = (await readJson<Record<string, number>>(path)) ?? {};
      for (const c of counts) current[c.digest] = (current[c.digest] ?? 0) + c.count;
      await writeFileAtomic(this.tmpDir, path, JSON.stringify(current));
    }
  }

  private countsPath(repo: string): string {
    // Name components never start with '_', so the counts file cannot collide with a nested repository.
    return join(this.root, 'downloads', ...repo.split('/'), '_counts.json');
  }

  private path(kind: 'checksums' | 'layers', d: Digest, ext: string): string {
    const { algorithm, hex } = digestParts(d);
    return join(this.root, kind, algorithm, `${hex}${ext}`);
  }
}

async function readJson<T>(path: string): Promise<T | undefined> {
  try {
    return JSON.parse(await readFile(path, 'utf8')) as T;
  } catch (err) {
    if (isNotFound(err)) return undefined;
    throw err;
  }
}
