import { describe, expect, it } from 'vitest';
import { linkHeader, pageWithNext, parsePage } from '../../../src/http/pagination.js';
import { paginate } from '../../../src/metadata/metadata-index.js';
import { isOciError } from '../../../src/oci/errors.js';

const SORTED = ['a', 'b', 'c', 'd', 'e'];

describe('paginate', () => {
  it('returns everything without n or last', () => {
    expect(paginate(SORTED, {})).toEqual(SORTED);
  });

  it('takes n entries after last (exclusive)', () => {
    expect(paginate(SORTED, { n: 2 })).toEqual(['a', 'b']);
    expect(paginate(SORTED, { n: 2, last: 'b' })).toEqual(['c', 'd']);
    expect(paginate(SORTED, { last: 'c' })).toEqual(['d', 'e']);
    expect(paginate(SORTED, { n: 10, last: 'd' })).toEqual(['e']);
  });

  it('handles a last that is not in the list, or after its end', () => {
    expect(paginate(SORTED, { last: 'bb' })).toEqual(['c', 'd', 'e']);
    expect(paginate(SORTED, { last: 'e' })).toEqual([]);
    expect(paginate(SORTED, { last: 'z' })).toEqual([]);
    expect(paginate(SORTED, { last: '' })).toEqual(SORTED);
  });

  it('n=0 is empty', () => {
    expect(paginate(SORTED, { n: 0 })).toEqual([]);
  });
});

describe('parsePage', () => {
  it('reads n and last', () => {
    expect(parsePage({})).toEqual({});
    expect(parsePage({ n: '3', last: 'b' })).toEqual({ n: 3, last: 'b' });
  });

  it('caps a huge n', () => {
    expect(parsePage({ n: '99999999' }).n).toBeLessThanOrEqual(10000);
  });

  it.each([['-1'], ['abc'], ['1.5'], [''], [['1', '2']]])('n=%j is PAGINATION_NUMBER_INVALID', (n) => {
    let caught: unknown;
    try {
      parsePage({ n });
    } catch (err) {
      caught = err;
    }
    expect(isOciError(caught, 'PAGINATION_NUMBER_INVALID')).toBe(true);
  });
});

describe('pageWithNext', () => {
  const list = async (p: { n?: number; last?: string }) => paginate(SORTED, p);

  it('reports the next page start only when more entries exist', async () => {
    expect(await pageWithNext({ n: 2 }, list)).toEqual({ items: ['a', 'b'], next: 'b' });
    expect(await pageWithNext({ n: 2, last: 'b' }, list)).toEqual({ items: ['c', 'd'], next: 'd' });
    expect(await pageWithNext({ n: 2, last: 'c' }, list)).toEqual({ items: ['d', 'e'] });
    expect(await pageWithNext({ n: 5 }, list)).toEqual({ items: SORTED });
    expect(await pageWithNext({}, list)).toEqual({ items: SORTED });
    expect(await pageWithNext({ n: 0 }, list)).toEqual({ items: [] });
  });

  it('builds an RFC 5988 Link with an encoded last', () => {
    expect(linkHeader('/v2/a/b/tags/list', 2, 'v1+x')).toBe('</v2/a/b/tags/list?n=2&last=v1%2Bx>; rel="next"');
  });
});
