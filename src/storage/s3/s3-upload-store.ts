import { randomUUID } from 'node:crypto';
import { Readable, pipeline } from 'node:stream';
import { DigestingStream, digestParts, type Digest } from '../../oci/digest.js';
import { OciError } from '../../oci/errors.js';
import type { Clock } from '../../oci/types.js';
import type { Upload, UploadStore } from '../blob-store.js';
import type { S3Bucket } from './s3-bucket.js';
import type { S3BlobStore } from './s3-blob-store.js';

const UPLOAD_ID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;

/** One PATCH's bytes: its own object, with the sha256 computed while it streamed in. */
interface Chunk {
  key: string;
  size: number;
  sha256: Digest;
}

/** uploads/<id>/state.json: everything a replica needs to continue or finish the session. */
interface SessionState {
  repo: string;
  startedAt: number;
  chunks: Chunk[];
  owner?: string;
}

/**
 * Chunked upload sessions kept entirely in the bucket, so a PATCH or the final PUT may land on a
 * different replica than the POST: each chunk is an object of its own (streamed in, multipart when
 * large), and uploads/<id>/state.json lists them in order. The session's size is the sum of its
 * chunks, so a chunk that failed half-way leaves the session as it was. Finishing a single-chunk
 * session (what docker, podman, skopeo and containerd send) is a server-side copy after comparing
 * the chunk's digest; several chunks are streamed back once, through the hasher, into the blob store.
 */
export class S3UploadStore implements UploadStore {
  private readonly busy = new Set<string>();
  private readonly open = new Set<string>();

  constructor(
    private readonly bucket: S3Bucket,
    private readonly blobs: S3BlobStore,
    private readonly clock: Clock,
  ) {}

  /** Sessions started or written by this process and not yet finished (for metrics). */
  get inProgress(): number {
    return this.open.size;
  }

  async start(repo: string, owner?: string): Promise<Upload> {
    const id = randomUUID();
    const state: SessionState = { repo, startedAt: this.clock.now(), chunks: [], ...(owner === undefined ? {} : { owner }) };
    await this.writeState(id, state);
    this.open.add(id);
    return toUpload(id, state);
  }

  async get(id: string): Promise<Upload | undefined> {
    const state = await this.readState(id);
    return state && toUpload(id, state);
  }

  async append(id: string, chunk: Readable, at?: number): Promise<Upload> {
    return this.exclusive(id, chunk, async () => toUpload(id, await this.appendUnlocked(id, chunk, at)));
  }

  async finish(id: string, d: Digest, last?: Readable): Promise<{ digest: Digest; size: number }> {
    return this.exclusive(id, last, async () => {
      const started = await this.require(id);
      if (last && started.chunks.length === 0) {
        // POST then one PUT with the body (monolithic in two steps): straight into the blob store.
        try {
          return await this.blobs.put(last, d);
        } finally {
          await this.remove(id, started);
        }
      }
      const state = last ? await this.appendUnlocked(id, last) : started;
      try {
        const size = sizeOf(state);
        const only = state.chunks.length === 1 ? state.chunks[0] : undefined;
        if (only && digestParts(d).algorithm === 'sha256') return await this.blobs.commit(only.key, d, only.sha256, size);
        return await this.blobs.put(this.concatenated(state.chunks), d, { size });
      } finally {
        await this.remove(id, state);
      }
    });
  }

  async cancel(id: string): Promise<void> {
    await this.remove(id, await this.require(id));
  }

  /**
   * Removes sessions started more than `maxAgeMs` ago (and keys left without a session), plus
   * unverified temp objects as old; returns how many sessions went.
   */
  async purgeStale(maxAgeMs: number): Promise<number> {
    const now = this.clock.now();
    const sessions = new Map<string, string[]>();
    for await (const o of this.bucket.list(this.bucket.key('uploads/'))) {
      const id = o.key.slice(this.bucket.key('uploads/').length).split('/')[0]!;
      let keys = sessions.get(id);
      if (!keys) sessions.set(id, (keys = []));
      keys.push(o.key);
    }
    let removed = 0;
    for (const [id, keys] of sessions) {
      if (this.busy.has(id)) continue;
      const state = await this.readState(id).catch(() => undefined);
      if (state && now - state.startedAt <= maxAgeMs) continue;
      for (const key of keys) await this.bucket.deleteQuietly(key);
      this.open.delete(id);
      if (state) removed++;
    }
    for await (const o of this.bucket.list(this.bucket.key('_tmp/'))) {
      if (o.lastModified && now - o.lastModified.getTime() > maxAgeMs) await this.bucket.deleteQuietly(o.key);
    }
    return removed;
  }

  private async appendUnlocked(id: string, body: Readable, at?: number): Promise<SessionState> {
    const state = await this.require(id);
    const size = sizeOf(state);
    if (at !== undefined && at !== size) {
      body.resume();
      throw rangeInvalid(size, `chunk starts at ${at}, upload has ${size} bytes`);
    }
    const key = this.bucket.key(`uploads/${id}/${String(state.chunks.length).padStart(6, '0')}-${randomUUID()}`);
    const hasher = new DigestingStream('sha256');
    try {
      await this.bucket.put(key, pipeline(body, hasher, () => undefined));
    } catch (err) {
      await this.bucket.deleteQuietly(key);
      throw err;
    }
    if (hasher.bytes === 0) {
      await this.bucket.deleteQuietly(key);
      return state;
    }
    const next: SessionState = { ...state, chunks: [...state.chunks, { key, size: hasher.bytes, sha256: hasher.digest() }] };
    await this.writeState(id, next);
    this.open.add(id);
    return next;
  }

  /** The chunks' bytes in order, one GET at a time (memory: one read buffer). */
  private concatenated(chunks: readonly Chunk[]): Readable {
    const bucket = this.bucket;
    return Readable.from(
      (async function* () {
        for (const c of chunks) {
          const body = await bucket.get(c.key);
          if (!body) throw new OciError('BLOB_UPLOAD_INVALID', 'a chunk of this upload is missing');
          yield* body as AsyncIterable<Buffer>;
        }
      })(),
      { objectMode: false },
    );
  }

  private stateKey(id: string): string {
    return this.bucket.key(`uploads/${id}/state.json`);
  }

  private async readState(id: string): Promise<SessionState | undefined> {
    if (!UPLOAD_ID.test(id)) return undefined;
    // S3 replaces an object atomically, but some S3-compatible servers (s3rver among them) can serve a key
    // while it is being rewritten: an empty or torn state is read again before it counts as corrupt.
    for (let attempt = 1; ; attempt++) {
      const text = await this.bucket.getText(this.stateKey(id));
      if (text === undefined) return undefined;
      try {
        return JSON.parse(text) as SessionState;
      } catch (err) {
        if (attempt >= 5) throw err;
        await new Promise((r) => setTimeout(r, 20 * attempt));
      }
    }
  }

  private async writeState(id: string, state: SessionState): Promise<void> {
    await this.bucket.put(this.stateKey(id), JSON.stringify(state));
  }

  private async remove(id: string, state: SessionState): Promise<void> {
    this.open.delete(id);
    // State first: once it is gone the session is, even if a chunk delete fails (purge sweeps those).
    await this.bucket.delete(this.stateKey(id));
    for (const c of state.chunks) await this.bucket.deleteQuietly(c.key);
  }

  private async require(id: string): Promise<SessionState> {
    const state = await this.readState(id);
    if (!state) throw new OciError('BLOB_UPLOAD_UNKNOWN', undefined, { detail: { uuid: id.slice(0, 64) } });
    return state;
  }

  /** One writer per session in this process; across replicas clients send chunks one after another. */
  private async exclusive<T>(id: string, body: Readable | undefined, work: () => Promise<T>): Promise<T> {
    if (this.busy.has(id)) {
      body?.resume();
      const state = await this.require(id);
      throw rangeInvalid(sizeOf(state), 'another request is writing to this upload');
    }
    this.busy.add(id);
    try {
      return await work();
    } finally {
      this.busy.delete(id);
    }
  }
}

function sizeOf(state: SessionState): number {
  return state.chunks.reduce((n, c) => n + c.size, 0);
}

function toUpload(id: string, state: SessionState): Upload {
  return { id, repo: state.repo, size: sizeOf(state), startedAt: state.startedAt, ...(typeof state.owner === 'string' ? { owner: state.owner } : {}) };
}

function rangeInvalid(size: number, message: string): OciError {
  return new OciError('RANGE_INVALID', message, { detail: { size } });
}
