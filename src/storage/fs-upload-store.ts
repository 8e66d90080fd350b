import { createHash, randomUUID, type Hash } from 'node:crypto';
import { mkdir, readFile, readdir, rm, stat, truncate } from 'node:fs/promises';
import { join } from 'node:path';
import type { Readable } from 'node:stream';
import { digestParts, hashToDigest, type Digest } from '../oci/digest.js';
import { OciError, isNoSpaceError } from '../oci/errors.js';
import type { Clock } from '../oci/types.js';
import { appendBody } from './append-file.js';
import { isNotFound, writeFileAtomic } from './atomic-file.js';
import type { BlobStore, Upload, UploadStore } from './blob-store.js';
import type { Layout } from './layout.js';

const UPLOAD_ID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;

/** Running sha256 of an upload, kept between PATCH requests so finishing needs no second read. */
interface HashState {
  hash: Hash;
  offset: number;
}

export class FsUploadStore implements UploadStore {
  private readonly hashes = new Map<string, HashState>();
  private readonly busy = new Set<string>();

  constructor(
    private readonly layout: Layout,
    private readonly blobs: BlobStore,
    private readonly clock: Clock,
  ) {}

  async init(): Promise<void> {
    await mkdir(this.layout.uploadsDir, { recursive: true });
  }

  /** Number of uploads with a session open in this process (for metrics). */
  get inProgress(): number {
    return this.hashes.size;
  }

  async start(repo: string, owner?: string): Promise<Upload> {
    const id = randomUUID();
    const dir = this.layout.upload(id);
    await mkdir(dir, { recursive: true });
    const upload: Upload = { id, repo, size: 0, startedAt: this.clock.now(), ...(owner === undefined ? {} : { owner }) };
    await writeFileAtomic(this.layout.tmpDir, join(dir, 'info.json'), JSON.stringify({ repo, startedAt: upload.startedAt, owner }));
    await writeFileAtomic(this.layout.tmpDir, join(dir, 'data'), '');
    this.hashes.set(id, { hash: createHash('sha256'), offset: 0 });
    return upload;
  }

  async get(id: string): Promise<Upload | undefined> {
    if (!UPLOAD_ID.test(id)) return undefined;
    const dir = this.layout.upload(id);
    try {
      const info = JSON.parse(await readFile(join(dir, 'info.json'), 'utf8')) as { repo: string; startedAt: number; owner?: string };
      const { size } = await stat(join(dir, 'data'));
      return { id, repo: info.repo, size, startedAt: info.startedAt, ...(typeof info.owner === 'string' ? { owner: info.owner } : {}) };
    } catch (err) {
      if (isNotFound(err)) return undefined;
      throw err;
    }
  }

  async append(id: string, chunk: Readable, at?: number): Promise<Upload> {
    return this.exclusive(id, () => this.appendUnlocked(id, chunk, at));
  }

  async finish(id: string, d: Digest, last?: Readable): Promise<{ digest: Digest; size: number }> {
    return this.exclusive(id, async () => {
      if (last) await this.appendUnlocked(id, last);
      else await this.require(id);
      const state = this.hashes.get(id);
      const dataPath = join(this.layout.upload(id), 'data');
      const { size } = await stat(dataPath);
      const known = state && state.offset === size && digestParts(d).algorithm === 'sha256' ? hashToDigest(state.hash, 'sha256') : undefined;
      this.hashes.delete(id);
      try {
        return await this.blobs.adopt(dataPath, d, known);
      } finally {
        await rm(this.layout.upload(id), { recursive: true, force: true });
      }
    });
  }

  async cancel(id: string): Promise<void> {
    await this.require(id);
    this.hashes.delete(id);
    await rm(this.layout.upload(id), { recursive: true, force: true });
  }

  /** Removes uploads abandoned for longer than `maxAgeMs`; returns how many. */
  async purgeStale(maxAgeMs: number): Promise<number> {
    let removed = 0;
    const ids = await readdir(this.layout.uploadsDir).catch(() => [] as string[]);
    for (const id of ids) {
      if (this.busy.has(id)) continue;
      const upload = await this.get(id).catch(() => undefined);
      if (!upload || this.clock.now() - upload.startedAt > maxAgeMs) {
        this.hashes.delete(id);
        await rm(this.layout.upload(id), { recursive: true, force: true });
        removed++;
      }
    }
    return removed;
  }

  private async appendUnlocked(id: string, chunk: Readable, at?: number): Promise<Upload> {
    const upload = await this.require(id);
    if (at !== undefined && at !== upload.size) {
      chunk.resume();
      throw rangeInvalid(upload, `chunk starts at ${at}, upload has ${upload.size} bytes`);
    }
    let state = this.hashes.get(id);
    if (state && state.offset !== upload.size) {
      this.hashes.delete(id); // out of step (e.g. after a restart): finish will re-hash the file
      state = undefined;
    }
    const feed = state;
    try {
      await appendBody(join(this.layout.upload(id), 'data'), chunk, (data) => {
        feed?.hash.update(data);
        if (feed) feed.offset += data.length;
      });
    } catch (err) {
      // The bytes that reached the file stay (a client may resume from the reported Range);
      // the running hash may not match them any more. Not on a full disk: what this request wrote
      // goes, so space is freed now rather than at expiry, and the session resumes where it was.
      this.hashes.delete(id);
      if (isNoSpaceError(err)) await truncate(join(this.layout.upload(id), 'data'), upload.size).catch(() => undefined);
      throw err;
    }
    return (await this.get(id)) ?? upload;
  }

  private async require(id: string): Promise<Upload> {
    const upload = await this.get(id);
    if (!upload) throw new OciError('BLOB_UPLOAD_UNKNOWN', undefined, { detail: { uuid: id.slice(0, 64) } });
    return upload;
  }

  private async exclusive<T>(id: string, work: () => Promise<T>): Promise<T> {
    if (this.busy.has(id)) {
      const upload = await this.require(id);
      throw rangeInvalid(upload, 'another request is writing to this upload');
    }
    this.busy.add(id);
    try {
      return await work();
    } finally {
      this.busy.delete(id);
    }
  }
}

function rangeInvalid(upload: Upload, message: string): OciError {
  return new OciError('RANGE_INVALID', message, { detail: { size: upload.size } });
}
