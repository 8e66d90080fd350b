import { appendFile, mkdir, readFile, rm } from 'node:fs/promises';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { FsMetadataIndex } from '../../../src/metadata/fs-metadata-index.js';
import type { Digest } from '../../../src/oci/digest.js';
import { Layout } from '../../../src/storage/layout.js';
import { sha256 } from '../../helpers/push.js';
import { tmpDir } from '../../helpers/registry.js';

const d = (s: string) => sha256(Buffer.from(s)) as Digest;
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

// Two index instances over one folder stand for two workers (processes) sharing a data dir:
// neither sees the other's memory, only the files.
describe('FsMetadataIndex listings shared by several processes', () => {
  let root: string;
  let layout: Layout;
  const index = () => new FsMetadataIndex(layout);

  beforeAll(async () => {
    root = await tmpDir('catalog-');
    layout = new Layout(root);
    await mkdir(layout.tmpDir, { recursive: true });
  });
  afterAll(async () => {
    await rm(root, { recursive: true, force: true });
  });

  it('a repository created by one process is on the other one\'s next page, in order, with n/last', async () => {
    const a = index();
    const b = index();
    expect(await a.listRepositories({})).toEqual([]);
    await a.setTag('team/b', 'v1', d('1'));
    expect(await b.listRepositories({})).toEqual(['team/b']);
    await b.setTag('team/a', 'v1', d('1'));
    await b.setTag('c', 'v1', d('1'));
    await a.setTag('team/b', 'v2', d('2')); // known repository: no new log line
    expect(await a.listRepositories({})).toEqual(['c', 'team/a', 'team/b']);
    expect(await a.listRepositories({ n: 2 })).toEqual(['c', 'team/a']);
    expect(await a.listRepositories({ n: 2, last: 'team/a' })).toEqual(['team/b']);
    expect(await a.listRepositories({ n: 5, last: 'd' })).toEqual(['team/a', 'team/b']); // last need not exist
    expect(await a.listRepositories({ n: 5, last: 'zzz' })).toEqual([]);
    const log = (await readFile(layout.catalogLog, 'utf8')).split('\n').filter(Boolean);
    expect(log.sort()).toEqual(['+c', '+team/a', '+team/b']);
  });

  it('a missing log is rebuilt from the tree; a half-written line waits for its end', async () => {
    await rm(layout.catalogLog);
    const c = index();
    expect(await c.listRepositories({})).toEqual(['c', 'team/a', 'team/b']);
    await mkdir(layout.tagsDir('half'), { recursive: true });
    await appendFile(layout.catalogLog, '+ha');
    expect(await c.listRepositories({})).toEqual(['c', 'team/a', 'team/b']);
    await appendFile(layout.catalogLog, 'lf\n');
    expect(await c.listRepositories({})).toEqual(['c', 'half', 'team/a', 'team/b']);
  });

  it('a -name line from another process removes the name; the name may come back', async () => {
    const a = index();
    expect(await a.listRepositories({})).toEqual(['c', 'half', 'team/a', 'team/b']);
    await rm(layout.repository('half'), { recursive: true });
    await appendFile(layout.catalogLog, '-half\n');
    expect(await a.listRepositories({ n: 2 })).toEqual(['c', 'team/a']);
    expect(await index().listRepositories({})).toEqual(['c', 'team/a', 'team/b']);
    await a.setTag('half', 'v1', d('1'));
    expect(await index().listRepositories({ last: 'c' })).toEqual(['half', 'team/a', 'team/b']);
  });

  it('tag pages and tagsFor follow changes made by another process, even within the same clock tick', async () => {
    const a = index();
    const b = index();
    await b.setTag('tags', 'v1', d('1'));
    expect(await a.listTags('tags', {})).toEqual(['v1']);
    // Immediately: the folder's mtime may not have moved on at this resolution; the cache must not trust it.
    await b.setTag('tags', 'v2', d('2'));
    expect(await a.listTags('tags', {})).toEqual(['v1', 'v2']);
    await sleep(80);
    expect(await a.listTags('tags', { n: 1, last: 'v1' })).toEqual(['v2']); // now cached and trusted
    await b.setTag('tags', 'v0', d('2'));
    await b.deleteTag('tags', 'v1');
    expect(await a.listTags('tags', {})).toEqual(['v0', 'v2']);
    expect((await a.tagsFor('tags', d('2'))).sort()).toEqual(['v0', 'v2']);
    await sleep(80);
    await a.tagsFor('tags', d('2'));
    await b.setTag('tags', 'v2', d('3')); // re-pointed by rename over the file
    expect(await a.tagsFor('tags', d('2'))).toEqual(['v0']);
    expect(await a.tagsFor('tags', d('3'))).toEqual(['v2']);
  });
});
