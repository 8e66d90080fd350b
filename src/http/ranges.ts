import { OciError } from '../oci/errors.js';
import type { ByteRange } from '../oci/types.js';

/**
 * Parses a `Range: bytes=…` request header against a blob of `size` bytes.
 * Returns undefined for no header or a form we may ignore (multiple ranges → whole blob, as RFC 9110 allows).
 */
export function parseRangeHeader(header: string | undefined, size: number): ByteRange | undefined {
  if (header === undefined) return undefined;
  const m = /^bytes=(\d*)-(\d*)$/.exec(header.trim());
  if (!m) {
    if (/^bytes=.*,/.test(header)) return undefined;
    throw unsatisfiable(size);
  }
  const [, first, last] = m;
  if (first === '' && last === '') throw unsatisfiable(size);
  if (first === '') {
    const suffix = Number(last);
    if (suffix === 0 || size === 0) throw unsatisfiable(size);
    return { start: Math.max(size - suffix, 0), end: size - 1 };
  }
  const start = Number(first);
  const end = last === '' ? size - 1 : Math.min(Number(last), size - 1);
  if (start >= size || end < start) throw unsatisfiable(size);
  return { start, end };
}

/** Parses an upload's `Content-Range: start-end` (the spec's form, without `bytes `). */
export function parseUploadContentRange(header: string | undefined): ByteRange | undefined {
  if (header === undefined) return undefined;
  const m = /^(?:bytes )?(\d+)-(\d+)(?:\/\d+|\/\*)?$/.exec(header.trim());
  if (!m) throw new OciError('RANGE_INVALID', 'malformed Content-Range');
  const range = { start: Number(m[1]), end: Number(m[2]) };
  if (range.end < range.start) throw new OciError('RANGE_INVALID', 'Content-Range ends before it starts');
  return range;
}

function unsatisfiable(size: number): OciError {
  return new OciError('RANGE_INVALID', 'requested range not satisfiable', { headers: { 'Content-Range': `bytes */${size}` } });
}
