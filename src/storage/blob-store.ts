import type { Readable } from 'node:stream';
import type { BlobCopy } from './file-copy.js';
import type { Digest } from '../oci/digest.js';
import type { ByteRange } from '../oci/types.js';

export interface BlobStat {
  size: number;
}

/** Content-addressed blob storage. Knows nothing of repositories or HTTP. */
export interface BlobStore {
  stat(d: Digest): Promise<BlobStat | undefined>;
  /** BLOB_UNKNOWN when absent. */
  open(d: Digest, range?: ByteRange): Promise<Readable>;
  /** Optional fast path for serving: BLOB_UNKNOWN now, then copies the bytes into a Writable with reused buffers. */
  openCopy?(d: Digest, range?: ByteRange): Promise<BlobCopy>;
  /** Streams `body` in, verifying it hashes to `expected`; nothing becomes visible unless it does. */
  put(body: Readable, expected: Digest, options?: { size?: number; signal?: AbortSignal }): Promise<{ digest: Digest; size: number }>;
  /** Moves an already-written file into place after verifying it; the file is consumed either way. */
  adopt(path: string, expected: Digest, knownDigest?: Digest): Promise<{ digest: Digest; size: number }>;
  delete(d: Digest): Promise<void>;
  /** Where a client may fetch the blob itself (a presigned object-store URL), when the store is set to redirect. */
  redirectUrl?(d: Digest): Promise<string | undefined>;
  /** Lifecycle (GC, eviction): every blob with its size and last write/touch time (ms). */
  list?(): AsyncIterable<StoredBlob>;
  /** Marks a blob as just referenced (its time → now), so a sweep racing this reference keeps it; false when absent. */
  touch?(d: Digest): Promise<boolean>;
  /** Deletes `d` unless it was written or touched after `notAfter` (ms): a touch racing the delete wins. */
  deleteIfUntouched?(d: Digest, notAfter: number): Promise<'deleted' | 'kept' | 'missing'>;
  /**
   * Moves a blob found corrupt out of the way (never deletes it): afterwards `d` is absent, so a mirror
   * refetches it and a push can store it again. Returns where it went (for the log); undefined when
   * the blob was already gone or turned out intact (a good copy replaced it meanwhile).
   */
  quarantine?(d: Digest): Promise<string | undefined>;
}

export interface StoredBlob {
  digest: Digest;
  size: number;
  modifiedAt: number;
}

export interface Upload {
  id: string;
  repo: string;
  size: number;
  startedAt: number;
  /** Who started the session (the auth subject), kept by every driver as given; absent with auth off. */
  owner?: string;
}

/** Resumable uploads (chunked PATCH sessions), finished into a BlobStore. */
export interface UploadStore {
  /** `owner` is stored with the session and returned by get() as it was given (an opaque string). */
  start(repo: string, owner?: string): Promise<Upload>;
  get(id: string): Promise<Upload | undefined>;
  /** Appends at `at` (when given it must equal the current size, else RANGE_INVALID). */
  append(id: string, chunk: Readable, at?: number): Promise<Upload>;
  finish(id: string, d: Digest, last?: Readable): Promise<{ digest: Digest; size: number }>;
  cancel(id: string): Promise<void>;
}
