import { OciError } from '../oci/errors.js';
import type { Page } from '../oci/types.js';

const MAX_PAGE = 10000;

export function parsePage(query: Record<string, unknown>): Page {
  const page: Page = {};
  const n = query.n;
  if (n !== undefined) {
    if (typeof n !== 'string' || !/^\d+$/.test(n)) throw new OciError('PAGINATION_NUMBER_INVALID', 'n must be a non-negative integer');
    page.n = Math.min(Number(n), MAX_PAGE);
  }
  if (typeof query.last === 'string') page.last = query.last;
  return page;
}

/** Fetches one more than asked so we know whether a next page exists. */
export async function pageWithNext(page: Page, list: (p: Page) => Promise<string[]>): Promise<{ items: string[]; next?: string }> {
  if (page.n === undefined) return { items: await list(page) };
  if (page.n === 0) return { items: [] };
  const items = await list({ ...page, n: page.n + 1 });
  if (items.length <= page.n) return { items };
  const shown = items.slice(0, page.n);
  return { items: shown, next: shown[shown.length - 1] };
}

export function linkHeader(path: string, n: number, last: string): string {
  return `<${path}?n=${n}&last=${encodeURIComponent(last)}>; rel="next"`;
}
