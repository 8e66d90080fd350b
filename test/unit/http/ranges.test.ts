import { describe, expect, it } from 'vitest';
import { parseRangeHeader, parseUploadContentRange } from '../../../src/http/ranges.js';
import { isOciError } from '../../../src/oci/errors.js';

function rangeError(fn: () => unknown): { code: string; headers: Record<string, string> } | undefined {
  try {
    fn();
  } catch (err) {
    if (isOciError(err)) return { code: err.code, headers: err.headers };
    throw err;
  }
  return undefined;
}

describe('parseRangeHeader', () => {
  it('returns undefined without a header', () => {
    expect(parseRangeHeader(undefined, 100)).toBeUndefined();
  });

  it.each([
    ['bytes=0-9', { start: 0, end: 9 }],
    ['bytes=10-', { start: 10, end: 99 }],
    ['bytes=90-200', { start: 90, end: 99 }],
    ['bytes=-10', { start: 90, end: 99 }],
    ['bytes=-1000', { start: 0, end: 99 }],
    ['bytes=99-99', { start: 99, end: 99 }],
    [' bytes=5-6 ', { start: 5, end: 6 }],
  ])('%s on 100 bytes', (header, expected) => {
    expect(parseRangeHeader(header, 100)).toEqual(expected);
  });

  it('ignores multi-range requests (the whole blob is a valid answer)', () => {
    expect(parseRangeHeader('bytes=0-1,5-6', 100)).toBeUndefined();
  });

  it.each(['bytes=100-', 'bytes=100-200', 'bytes=9-5', 'bytes=-0', 'bytes=-', 'bytes=a-b', 'items=0-1', 'bytes 0-1', 'bytes=--1'])(
    '%s is RANGE_INVALID with Content-Range bytes */size',
    (header) => {
      expect(rangeError(() => parseRangeHeader(header, 100))).toEqual({ code: 'RANGE_INVALID', headers: { 'Content-Range': 'bytes */100' } });
    },
  );

  it('any range on an empty blob is unsatisfiable', () => {
    expect(rangeError(() => parseRangeHeader('bytes=0-', 0))?.code).toBe('RANGE_INVALID');
    expect(rangeError(() => parseRangeHeader('bytes=-5', 0))?.code).toBe('RANGE_INVALID');
  });
});

describe('parseUploadContentRange', () => {
  it.each([
    ['0-9', { start: 0, end: 9 }],
    ['10-19', { start: 10, end: 19 }],
    ['bytes 10-19', { start: 10, end: 19 }],
    ['bytes 10-19/100', { start: 10, end: 19 }],
    ['10-19/*', { start: 10, end: 19 }],
  ])('%s', (header, expected) => {
    expect(parseUploadContentRange(header)).toEqual(expected);
  });

  it('is undefined without a header', () => {
    expect(parseUploadContentRange(undefined)).toBeUndefined();
  });

  it.each(['', 'abc', '5', '9-5', '-5', 'bytes=0-5'])('%j is RANGE_INVALID', (header) => {
    expect(rangeError(() => parseUploadContentRange(header))?.code).toBe('RANGE_INVALID');
  });
});
