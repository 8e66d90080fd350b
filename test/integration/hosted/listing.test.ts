import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { OCI_MANIFEST, errorCode, imageManifest, pushBlob, pushImage, putManifest, sha256, type PushedImage } from '../../helpers/push.js';
import { startRegistry, type RunningRegistry } from '../../helpers/registry.js';

/** Parses `<url>; rel="next"` into the URL. */
function nextLink(res: Response): string | undefined {
  const link = res.headers.get('link');
  if (!link) return undefined;
  const m = /^<([^>]+)>;\s*rel="next"$/.exec(link);
  expect(m, `Link header ${link}`).toBeTruthy();
  return m![1];
}

describe('content discovery: tags/list and _catalog', () => {
  let reg: RunningRegistry;
  let image: PushedImage;
  const repo = 'acme/list';
  // Deliberately pushed out of order; the listing must come back lexically sorted.
  const tags = ['v2', 'latest', 'V1', '1.0', 'v10', 'a_b', 'v1.1'];
  const repos = ['zeta', 'acme/list', 'alpha/beta/gamma', 'alpha', 'mid/x'];

  beforeAll(async () => {
    reg = await startRegistry();
    image = await pushImage(reg.url, repo, tags[0], { seed: 'list' });
    for (const [i, tag] of tags.slice(1).entries()) {
      const body = imageManifest(image.config, image.layers, { annotations: { i: String(i) } });
      expect((await putManifest(reg.url, repo, tag, body, OCI_MANIFEST)).status).toBe(201);
    }
    for (const r of repos.filter((r) => r !== repo)) await pushImage(reg.url, r, 'latest', { seed: r });
  });
  afterAll(async () => {
    await reg.close();
  });

  describe('GET /v2/<name>/tags/list', () => {
    it('lists every tag, lexically sorted, without a Link header', async () => {
      const res = await fetch(`${reg.url}/v2/${repo}/tags/list`);
      expect(res.status).toBe(200);
      expect(res.headers.get('link')).toBeNull();
      expect(await res.json()).toEqual({ name: repo, tags: [...tags].sort() });
    });

    it('paginates with n and last, and Link points at the next page', async () => {
      const sorted = [...tags].sort();
      const seen: string[] = [];
      let url: string | undefined = `/v2/${repo}/tags/list?n=3`;
      let pages = 0;
      while (url) {
        const res = await fetch(new URL(url, reg.url));
        expect(res.status).toBe(200);
        const body = (await res.json()) as { name: string; tags: string[] };
        expect(body.name).toBe(repo);
        expect(body.tags.length).toBeLessThanOrEqual(3);
        seen.push(...body.tags);
        url = nextLink(res);
        if (url) expect(url).toBe(`/v2/${repo}/tags/list?n=3&last=${encodeURIComponent(body.tags.at(-1)!)}`);
        pages++;
      }
      expect(pages).toBe(3);
      expect(seen).toEqual(sorted);
    });

    it('last alone returns what follows it; n=0 returns an empty list', async () => {
      const sorted = [...tags].sort();
      const res = await fetch(`${reg.url}/v2/${repo}/tags/list?last=${sorted[4]}`);
      expect(((await res.json()) as { tags: string[] }).tags).toEqual(sorted.slice(5));
      const zero = await fetch(`${reg.url}/v2/${repo}/tags/list?n=0`);
      expect(zero.status).toBe(200);
      expect(((await zero.json()) as { tags: string[] }).tags).toEqual([]);
    });

    it('an exact-size page has no Link', async () => {
      const res = await fetch(`${reg.url}/v2/${repo}/tags/list?n=${tags.length}`);
      expect(((await res.json()) as { tags: string[] }).tags).toHaveLength(tags.length);
      expect(res.headers.get('link')).toBeNull();
    });

    it('an invalid n is 400 PAGINATION_NUMBER_INVALID', async () => {
      for (const n of ['-1', 'abc', '1.5']) {
        const res = await fetch(`${reg.url}/v2/${repo}/tags/list?n=${n}`);
        expect(res.status).toBe(400);
        expect(await errorCode(res)).toBe('PAGINATION_NUMBER_INVALID');
      }
    });

    it('an unknown repository is 404 NAME_UNKNOWN', async () => {
      const res = await fetch(`${reg.url}/v2/acme/never-pushed/tags/list`);
      expect(res.status).toBe(404);
      expect(await errorCode(res)).toBe('NAME_UNKNOWN');
    });
  });

  describe('GET /v2/_catalog', () => {
    it('lists every repository, any depth, sorted', async () => {
      const res = await fetch(`${reg.url}/v2/_catalog`);
      expect(res.status).toBe(200);
      expect(await res.json()).toEqual({ repositories: [...repos].sort() });
    });

    it('paginates with n and last and a Link header', async () => {
      const sorted = [...repos].sort();
      const first = await fetch(`${reg.url}/v2/_catalog?n=2`);
      expect(await first.json()).toEqual({ repositories: sorted.slice(0, 2) });
      expect(nextLink(first)).toBe(`/v2/_catalog?n=2&last=${encodeURIComponent(sorted[1]!)}`);
      const second = await fetch(new URL(nextLink(first)!, reg.url));
      expect(await second.json()).toEqual({ repositories: sorted.slice(2, 4) });
      const third = await fetch(new URL(nextLink(second)!, reg.url));
      expect(await third.json()).toEqual({ repositories: sorted.slice(4) });
      expect(third.headers.get('link')).toBeNull();
    });

    it('an invalid n is 400 PAGINATION_NUMBER_INVALID', async () => {
      const res = await fetch(`${reg.url}/v2/_catalog?n=x`);
      expect(res.status).toBe(400);
      expect(await errorCode(res)).toBe('PAGINATION_NUMBER_INVALID');
    });

    it('repositories with only blobs (no manifest yet) are not listed', async () => {
      await pushBlob(reg.url, 'onlyblobs', 'a lone blob');
      expect((await fetch(`${reg.url}/v2/onlyblobs/blobs/${sha256('a lone blob')}`, { method: 'HEAD' })).status).toBe(200);
      const res = await fetch(`${reg.url}/v2/_catalog`);
      expect(((await res.json()) as { repositories: string[] }).repositories).not.toContain('onlyblobs');
    });
  });
});
