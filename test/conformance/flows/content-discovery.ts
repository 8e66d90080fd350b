import { beforeAll, expect, it } from 'vitest';
import type { FlowContext } from '../conformance-suite.js';
import { pushImage, pushManifest, uniqueRepo } from '../content.js';
import { expectError } from '../registry-client.js';

interface TagList {
  name: string;
  tags: string[];
}

/** The URL in a `Link: <url>; rel="next"` header (RFC 5988), or undefined. */
function nextLink(res: Response): string | undefined {
  const header = res.headers.get('link');
  if (!header) return undefined;
  const m = /<([^>]+)>\s*;\s*rel="?next"?/.exec(header);
  expect(m, `Link header without rel="next": ${header}`).not.toBeNull();
  return m![1];
}

/** Spec, "Content Discovery › Listing Tags" (end-8a, end-8b). */
export function contentDiscoveryFlows(ctx: FlowContext): void {
  const repo = uniqueRepo('tags');
  // Lexical order is the spec's; these are pushed out of order on purpose.
  const tags = ['alpha', 'beta', 'delta', 'epsilon', 'gamma', 'v1.0', 'v1.1'];
  beforeAll(async () => {
    const image = await pushImage(ctx.client(), repo, 'gamma');
    for (const tag of ['v1.1', 'alpha', 'epsilon', 'beta', 'v1.0', 'delta']) await pushManifest(ctx.client(), repo, tag, image.manifest);
  });

  async function list(query: Record<string, string>): Promise<{ res: Response; body: TagList }> {
    const res = await ctx.client().get(`/v2/${repo}/tags/list`, { query });
    expect(res.status).toBe(200);
    return { res, body: (await res.json()) as TagList };
  }

  /** The order is checked only where the registry promises the spec's lexical order (see capabilities). */
  function inSpecOrder(listed: string[]): string[] {
    return ctx.capabilities.sortedTags ? listed : [...listed].sort();
  }

  it('GET tags/list: 200, {name, tags} with every tag (in lexical order where sortedTags)', async () => {
    const { body } = await list({});
    expect(body.name).toBe(repo);
    expect(inSpecOrder(body.tags)).toEqual(tags);
  });

  it.runIf(ctx.capabilities.tagPagination)('?n=<int>: exactly the first n tags', async () => {
    const { body } = await list({ n: '3' });
    expect(body.tags).toEqual(tags.slice(0, 3));
  });

  it.runIf(ctx.capabilities.tagPagination)('?n=<int> with more tags left sets Link rel="next"; following it walks every tag once', async () => {
    const seen: string[] = [];
    let target: string | undefined = `/v2/${repo}/tags/list?n=2`;
    for (let pages = 0; target && pages < 10; pages++) {
      const res = await ctx.client().get(target);
      expect(res.status).toBe(200);
      const body = (await res.json()) as TagList;
      expect(body.tags.length).toBeLessThanOrEqual(2);
      seen.push(...body.tags);
      target = nextLink(res);
    }
    expect(seen).toEqual(tags);
  });

  it.runIf(ctx.capabilities.tagPagination)('?n=<int>&last=<tag>: up to n tags after last, not including it', async () => {
    const { body } = await list({ n: '2', last: 'beta' });
    expect(body.tags).toEqual(['delta', 'epsilon']);
  });

  it.runIf(ctx.capabilities.tagPagination)('?last=<tag> alone (n is optional with last): every tag after it', async () => {
    const { body } = await list({ last: 'gamma' });
    expect(body.tags).toEqual(['v1.0', 'v1.1']);
  });

  it.runIf(ctx.capabilities.tagPagination)('?n=0: an empty list and no Link header', async () => {
    const { res, body } = await list({ n: '0' });
    expect(body.tags ?? []).toEqual([]);
    expect(res.headers.get('link')).toBeNull();
  });

  it('the last page carries no Link header', async () => {
    const { res, body } = await list({ n: String(tags.length) });
    expect(inSpecOrder(body.tags)).toEqual(tags);
    expect(res.headers.get('link')).toBeNull();
  });

  it('tags/list of a repository that does not exist is 404 NAME_UNKNOWN', async () => {
    await expectError(await ctx.client().get(`/v2/${uniqueRepo('never-pushed')}/tags/list`), 404, 'NAME_UNKNOWN');
  });
}
