import type { Digest } from '../oci/digest.js';

/** The four checksums shown on an image page, hex-encoded, of a blob's bytes as stored (compressed). */
export interface Checksums {
  md5: string;
  sha1: string;
  sha256: string;
  sha512: string;
}

export type FileType = 'file' | 'directory' | 'symlink' | 'link' | 'other';

/** One entry of a layer's tar, as `tar -tv` shows it. */
export interface FileEntry {
  path: string;
  type: FileType;
  size: number;
  mode: number;
  /** Target of a symlink or hard link. */
  linkname?: string;
}

/** What was learnt about one layer blob: its checksums, and its file list unless it could not be read. */
export interface LayerFacts {
  checksums: Checksums;
  /** 'listed': the file list is stored; 'unlisted': not a tar we read (zstd, foreign), `reason` says why. */
  contents: 'listed' | 'unlisted';
  reason?: string;
  /** Entries in the tar, directories included. */
  entries: number;
  /** Entries that are not directories. */
  files: number;
  /** Sum of regular files' sizes, uncompressed. */
  unpackedBytes: number;
  computedAt: number;
}

/** Writes a layer's file list entry by entry; nothing is visible until commit. */
export interface LayerFactsWriter {
  write(entry: FileEntry): Promise<void>;
  commit(facts: LayerFacts): Promise<void>;
  abort(): Promise<void>;
}

export interface DownloadCount {
  repo: string;
  digest: Digest;
  count: number;
}

/**
 * Facts computed once from stored content (checksums, layer file lists) and counters that grow per pull.
 * Content-addressed facts are keyed by digest alone: the same layer in two repositories is read once.
 */
export interface ImageFactsStore {
  getChecksums(d: Digest): Promise<Checksums | undefined>;
  putChecksums(d: Digest, checksums: Checksums): Promise<void>;
  getLayer(d: Digest): Promise<LayerFacts | undefined>;
  beginLayer(d: Digest): Promise<LayerFactsWriter>;
  /** A page of a committed file list, in tar order. */
  listFiles(d: Digest, offset: number, limit: number): Promise<FileEntry[]>;
  /** Adds counts to the stored totals (one batched write). */
  addDownloads(batch: readonly DownloadCount[]): Promise<void>;
  /** Stored totals: per manifest digest of a repository, and the repository's sum. */
  downloads(repo: string): Promise<{ total: number; byDigest: Record<string, number> }>;
}
