import type { Readable } from 'node:stream';
import type { Digest } from '../oci/digest.js';
import type { ByteRange, Descriptor, Page } from '../oci/types.js';
import type { Upload } from '../storage/blob-store.js';
import type { BlobCopy } from '../storage/file-copy.js';

// Re-exported so http/ can name these without importing storage/ (an import-boundary rule).
export type { BlobCopy, Upload };

export interface ManifestResult {
  descriptor: Descriptor;
  body: Buffer;
}

export interface PutManifestResult {
  descriptor: Descriptor;
  subject?: Digest;
}

/** A blob found in a repository: its size now, its bytes when opened. */
export interface BlobHandle {
  size: number;
  open(range?: ByteRange): Promise<Readable>;
  /** Faster serving path where the store has one (local files); the route falls back to open(). */
  openCopy?(range?: ByteRange): Promise<BlobCopy>;
  /** A URL to send the client to instead of streaming (object storage with redirects on); ranges go there too. */
  redirect?(): Promise<string | undefined>;
}

/**
 * What the HTTP routes see of a repository. Hosted and mirrored repositories both implement it,
 * so routes cannot tell them apart. Errors are OciErrors with spec codes.
 */
export interface Repository {
  readonly name: string;
  getManifest(ref: string, accept: readonly string[]): Promise<ManifestResult>;
  /** Like getManifest, without the need for the body where an implementation can avoid it. */
  headManifest(ref: string, accept: readonly string[]): Promise<Descriptor>;
  /**
   * What getManifest would answer, when memory alone holds all of it (no I/O, no side effects);
   * undefined otherwise, also for every error. Lets the hottest request skip the general path.
   */
  peekManifest?(ref: string, accept: readonly string[]): ManifestResult | undefined;
  putManifest(ref: string, mediaType: string | undefined, body: Buffer): Promise<PutManifestResult>;
  deleteManifest(ref: string): Promise<void>;
  statBlob(d: Digest): Promise<{ size: number }>;
  getBlob(d: Digest): Promise<BlobHandle>;
  deleteBlob(d: Digest): Promise<void>;
  /** Links a blob held by `from` into this repository; false when `from` lacks it (202 fallback). */
  mountBlob(d: Digest, from: string): Promise<boolean>;
  /** Monolithic upload in a single request (POST ?digest=). */
  putBlob(body: Readable, d: Digest, size?: number): Promise<{ digest: Digest; size: number }>;
  /** `owner`: the auth subject starting the session, kept with it (only it may use the session). */
  startUpload(owner?: string): Promise<Upload>;
  getUpload(id: string): Promise<Upload>;
  appendUpload(id: string, chunk: Readable, at?: number): Promise<Upload>;
  finishUpload(id: string, d: Digest, last?: Readable): Promise<{ digest: Digest; size: number }>;
  cancelUpload(id: string): Promise<void>;
  listTags(page: Page): Promise<string[]>;
  referrers(subject: Digest, artifactType?: string): Promise<Descriptor[]>;
}

/** Maps a validated repository name to the repository serving it. */
export interface RepositoryResolver {
  resolve(name: string, hints?: { namespace?: string }): Repository;
  listRepositories(page: Page): Promise<string[]>;
}
