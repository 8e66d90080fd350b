import { afterAll, describe, expect, it } from 'vitest';
import type { ManifestRecord, MetadataIndex } from '../../src/metadata/metadata-index.js';
import type { Digest } from '../../src/oci/digest.js';
import { sha256 } from '../helpers/push.js';

export interface IndexUnderTest {
  index: MetadataIndex;
  cleanup(): Promise<void>;
}

const d = (s: string) => sha256(Buffer.from(s)) as Digest;
const MT = 'application/vnd.oci.image.manifest.v1+json';
const record = (digest: Digest, createdAt = 1000, extra: Partial<ManifestRecord> = {}): ManifestRecord => ({ mediaType: MT, digest, size: 123, createdAt, origin: 'hosted', ...extra });

/**
 * The MetadataIndex contract: every implementation (files, Redis) runs these same cases, parameterised by
 * a factory that returns a fresh, empty index.
 */
export function metadataIndexSuite(name: string, make: () => Promise<IndexUnderTest>): void {
  describe(`MetadataIndex contract: ${name}`, () => {
    const made: IndexUnderTest[] = [];
    const fresh = async () => {
      const m = await make();
      made.push(m);
      return m.index;
    };
    afterAll(async () => {
      for (const m of made) await m.cleanup();
    });

    it('sets, moves, resolves and deletes tags; tagsFor follows a moved tag', async () => {
      const idx = await fresh();
      expect(await idx.resolveTag('app', 'v1')).toBeUndefined();
      await idx.setTag('app', 'v1', d('a'));
      await idx.setTag('app', 'latest', d('a'));
      expect(await idx.resolveTag('app', 'v1')).toBe(d('a'));
      expect((await idx.tagsFor('app', d('a'))).sort()).toEqual(['latest', 'v1']);
      await idx.setTag('app', 'latest', d('b'));
      expect(await idx.resolveTag('app', 'latest')).toBe(d('b'));
      expect(await idx.tagsFor('app', d('a'))).toEqual(['v1']);
      expect(await idx.tagsFor('app', d('b'))).toEqual(['latest']);
      expect(await idx.deleteTag('app', 'v1')).toBe(true);
      expect(await idx.deleteTag('app', 'v1')).toBe(false);
      expect(await idx.resolveTag('app', 'v1')).toBeUndefined();
      expect(await idx.tagsFor('app', d('a'))).toEqual([]);
    });

    it('lists tags in lexical pages; an unknown repository lists undefined', async () => {
      const idx = await fresh();
      expect(await idx.listTags('nope', {})).toBeUndefined();
      for (const t of ['v2', 'a', 'v10', 'latest', 'B']) await idx.setTag('lib/app', t, d(t));
      expect(await idx.listTags('lib/app', {})).toEqual(['B', 'a', 'latest', 'v10', 'v2']);
      expect(await idx.listTags('lib/app', { n: 2 })).toEqual(['B', 'a']);
      expect(await idx.listTags('lib/app', { n: 2, last: 'a' })).toEqual(['latest', 'v10']);
      expect(await idx.listTags('lib/app', { last: 'v10' })).toEqual(['v2']);
      expect(await idx.listTags('lib/app', { last: 'zzz' })).toEqual([]);
      expect(await idx.listTags('lib/app', { n: 0 })).toEqual([]);
    });

    it('lists repositories (nested names too) in lexical pages, from tags or manifests', async () => {
      const idx = await fresh();
      expect(await idx.listRepositories({})).toEqual([]);
      await idx.setTag('b/c', 'x', d('1'));
      await idx.addManifest('a', record(d('2')));
      await idx.setTag('b', 'x', d('3'));
      await idx.setTag('a/z/y', 'x', d('4'));
      expect(await idx.listRepositories({})).toEqual(['a', 'a/z/y', 'b', 'b/c']);
      expect(await idx.listRepositories({ n: 3 })).toEqual(['a', 'a/z/y', 'b']);
      expect(await idx.listRepositories({ n: 3, last: 'b' })).toEqual(['b/c']);
      expect(await idx.repositoryExists('a')).toBe(true);
      expect(await idx.repositoryExists('a/z')).toBe(false);
    });

    it('keeps manifest records; a re-add keeps the first-seen time; deletes report what they removed', async () => {
      const idx = await fresh();
      const subject = d('subject');
      await idx.addManifest('app', record(d('m'), 1000, { subject, annotations: { k: 'v' }, artifactType: 'application/x' }));
      await idx.addManifest('app', record(d('m'), 5000, { subject, annotations: { k: 'v' }, artifactType: 'application/x' }));
      expect(await idx.getManifest('app', d('m'))).toEqual(record(d('m'), 1000, { subject, annotations: { k: 'v' }, artifactType: 'application/x' }));
      expect(await idx.getManifest('other', d('m'))).toBeUndefined();
      await idx.addManifest('app', record(d('n'), 2000, { origin: 'cached' }));
      expect((await idx.listManifests('app')).map((r) => r.digest).sort()).toEqual([d('m'), d('n')].sort());
      expect(await idx.deleteManifest('app', d('m'))).toBe(true);
      expect(await idx.deleteManifest('app', d('m'))).toBe(false);
      expect(await idx.getManifest('app', d('m'))).toBeUndefined();
    });

    it('links blobs per repository with the first origin; unlink reports what it removed', async () => {
      const idx = await fresh();
      await idx.linkBlob('app', d('blob'), 'cached');
      await idx.linkBlob('app', d('blob'), 'hosted');
      expect(await idx.hasBlob('app', d('blob'))).toBe(true);
      expect(await idx.hasBlob('other', d('blob'))).toBe(false);
      expect(await idx.listBlobLinks()).toEqual([{ repo: 'app', digest: d('blob'), origin: 'cached' }]);
      expect(await idx.unlinkBlob('app', d('blob'))).toBe(true);
      expect(await idx.unlinkBlob('app', d('blob'))).toBe(false);
      expect(await idx.hasBlob('app', d('blob'))).toBe(false);
    });

    it('keeps referrers per subject, sorted by digest, and removes them', async () => {
      const idx = await fresh();
      const subject = d('s');
      const refs = ['r1', 'r2', 'r3'].map((s) => ({ mediaType: MT, digest: d(s), size: 10, artifactType: 'application/sig' }));
      for (const r of refs) await idx.addReferrer('app', subject, r);
      const sorted = [...refs].sort((x, y) => (x.digest < y.digest ? -1 : 1));
      expect(await idx.referrers('app', subject)).toEqual(sorted);
      await idx.removeReferrer('app', subject, refs[0]!.digest);
      expect(await idx.referrers('app', subject)).toEqual(sorted.filter((r) => r.digest !== refs[0]!.digest));
      expect(await idx.referrers('app', d('none'))).toEqual([]);
    });
  });
}
