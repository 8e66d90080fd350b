import { PassThrough, Readable, Writable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { createGunzip } from 'node:zlib';
import type { Header } from 'tar-stream';
import type { Digest } from '../oci/digest.js';
import type { FileEntry, FileType, ImageFactsStore, LayerFacts } from '../metadata/image-facts-store.js';
import { ChecksumStream } from './checksums.js';

/** How a layer's bytes unpack to a tar, judged by its media type. */
type Unpack = { kind: 'gzip' } | { kind: 'tar' } | { kind: 'none'; reason: string };

export function unpackOf(mediaType: string): Unpack {
  const t = mediaType.toLowerCase();
  if (t.includes('zstd')) return { kind: 'none', reason: 'zstd-compressed layers are not listed' };
  if (t.includes('gzip')) return { kind: 'gzip' };
  if (t.endsWith('.tar') || t.endsWith('diff.tar') || t === 'application/x-tar') return { kind: 'tar' };
  return { kind: 'none', reason: `${mediaType} is not a layer archive` };
}

/**
 * Reads a layer blob once: the four checksums of the stored bytes, and (for tar and tar+gzip layers)
 * every tar entry, streamed to the store as it is parsed. A tar that cannot be read still gets its
 * checksums, from a second plain pass, and is marked unlisted with the reason.
 */
export async function analyzeLayer(
  d: Digest,
  mediaType: string,
  open: () => Promise<Readable>,
  store: ImageFactsStore,
  now: () => number,
): Promise<LayerFacts> {
  const unpack = unpackOf(mediaType);
  if (unpack.kind !== 'none') {
    const writer = await store.beginLayer(d);
    try {
      const sums = new ChecksumStream();
      const counts = { entries: 0, files: 0, unpackedBytes: 0 };
      const stages: NodeJS.ReadWriteStream[] = unpack.kind === 'gzip' ? [sums, createGunzip()] : [sums];
      // Loaded on the first layer read, not at start: most registries never open the pages.
      const { extract: tarExtract } = await import('tar-stream');
      const extract = tarExtract();
      extract.on('entry', (header, entry, next) => {
        const e = toEntry(header);
        counts.entries++;
        if (e.type !== 'directory') counts.files++;
        if (e.type === 'file') counts.unpackedBytes += e.size;
        writer.write(e).then(
          () => {
            entry.on('end', () => next());
            entry.resume();
          },
          (err: Error) => next(err),
        );
      });
      await pipeline([await open(), ...stages, extract] as unknown as [Readable, Writable]);
      const facts: LayerFacts = { checksums: sums.checksums(), contents: 'listed', ...counts, computedAt: now() };
      await writer.commit(facts);
      return facts;
    } catch (err) {
      await writer.abort();
      return hashOnly(d, open, store, now, `not a readable tar: ${(err as Error).message}`);
    }
  }
  return hashOnly(d, open, store, now, unpack.reason);
}

async function hashOnly(d: Digest, open: () => Promise<Readable>, store: ImageFactsStore, now: () => number, reason: string): Promise<LayerFacts> {
  const sums = new ChecksumStream();
  await pipeline(await open(), sums, new PassThrough().resume());
  const facts: LayerFacts = { checksums: sums.checksums(), contents: 'unlisted', reason, entries: 0, files: 0, unpackedBytes: 0, computedAt: now() };
  const writer = await store.beginLayer(d);
  await writer.commit(facts);
  return facts;
}

function toEntry(h: Header): FileEntry {
  const type = fileType(h.type);
  const entry: FileEntry = { path: h.name.replace(/^\.\//, ''), type, size: type === 'file' ? (h.size ?? 0) : 0, mode: h.mode ?? 0 };
  if (h.linkname) entry.linkname = h.linkname;
  return entry;
}

function fileType(t: Header['type'] | null | undefined): FileType {
  switch (t) {
    case 'file':
    case 'contiguous-file':
    case null:
    case undefined:
      return 'file';
    case 'directory':
      return 'directory';
    case 'symlink':
      return 'symlink';
    case 'link':
      return 'link';
    default:
      return 'other';
  }
}
