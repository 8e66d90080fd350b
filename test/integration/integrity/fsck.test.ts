import { randomBytes } from 'node:crypto';
import { existsSync } from 'node:fs';
import { mkdir, readFile, rm, unlink, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { runAdmin } from '../../../src/cli/admin-commands.js';
import { blobPath, pushImage, sha256, type PushedImage } from '../../helpers/push.js';
import { startRegistry, tmpDir } from '../../helpers/registry.js';
import { flipByte, quarantined } from './helpers.js';

async function admin(args: string[]): Promise<{ code: number; out: string; err: string }> {
  const out: string[] = [];
  const err: string[] = [];
  const code = await runAdmin(args, { out: (l) => out.push(l), err: (l) => err.push(l), readStdin: async () => '', env: {} });
  return { code, out: out.join('\n'), err: err.join('\n') };
}

/** Issue 10, item 1: `registry-admin fsck [--repair]` checks every blob, manifest record, tag and link. */
describe('1. bit rot: registry-admin fsck [--repair]', () => {
  let dataDir: string;
  let a: PushedImage;
  let b: PushedImage;
  const repoDir = (repo: string) => join(dataDir, 'repositories', ...repo.split('/'));
  const hex = (d: string) => d.slice(7);

  beforeAll(async () => {
    dataDir = await tmpDir('fsck-');
    const reg = await startRegistry({}, { dataDir, keepData: true });
    a = await pushImage(reg.url, 'team/a', 'v1', { seed: 'a', layers: [randomBytes(300_000).toString('latin1')] });
    b = await pushImage(reg.url, 'team/b', 'v1', { seed: 'b' });
    await reg.close();
  });
  afterAll(async () => {
    await rm(dataDir, { recursive: true, force: true });
  });

  it('a clean store: exit 0 and a summary', async () => {
    const r = await admin(['--data-dir', dataDir, 'fsck']);
    expect(r.code, r.err).toBe(0);
    expect(r.out).toMatch(/checked 6 blobs, 2 manifest records, 2 tags, 4 blob links: 0 problems/);
  });

  it('reports each kind of damage and changes nothing; --repair quarantines and re-links; lost content stays reported', async () => {
    await flipByte(blobPath(dataDir, a.layers[0]!.digest));
    const recordB = join(repoDir('team/b'), '_manifests', 'sha256', hex(b.manifest.digest));
    await writeFile(recordB, (await readFile(recordB)).subarray(0, 10));
    await writeFile(join(repoDir('team/a'), '_tags', 'garbage'), 'not a digest');
    await writeFile(join(repoDir('team/a'), '_tags', 'ghost'), sha256('no such manifest'));
    await unlink(join(repoDir('team/a'), '_layers', 'sha256', hex(a.config.digest)));
    const stray = sha256('never stored');
    await mkdir(join(repoDir('team/a'), '_layers', 'sha256'), { recursive: true });
    await writeFile(join(repoDir('team/a'), '_layers', 'sha256', hex(stray)), '{"origin":"hosted"}');

    const check = await admin(['--data-dir', dataDir, 'fsck']);
    expect(check.code).toBe(1);
    const kinds = (out: string) => out.split('\n').filter((l) => l.includes('\t')).map((l) => l.split('\t')[0]).sort();
    expect(kinds(check.out)).toEqual(['bad-tag', 'corrupt-blob', 'dangling-link', 'dangling-tag', 'dangling-tag', 'missing-link', 'unreadable-record']);
    expect(check.out).toContain(`repositories/team/b/_manifests/sha256/${hex(b.manifest.digest)}`);
    expect(await quarantined(dataDir)).toEqual([]);
    expect(existsSync(blobPath(dataDir, a.layers[0]!.digest))).toBe(true);

    const repair = await admin(['--data-dir', dataDir, 'fsck', '--repair']);
    // The corrupt layer is gone once quarantined: team/a's link to it dangles (moved aside too), and
    // a.v1 now lacks the layer: reported, not repairable (push it again).
    expect(kinds(repair.out)).toEqual(['bad-tag', 'corrupt-blob', 'dangling-link', 'dangling-link', 'dangling-tag', 'dangling-tag', 'missing-blob', 'missing-link', 'unreadable-record']);
    expect(repair.out.split('\n').filter((l) => l.endsWith('→ quarantined')).length).toBe(7);
    expect(repair.out.split('\n').filter((l) => l.endsWith('→ relinked')).length).toBe(1);
    expect(repair.code).toBe(1);
    expect(repair.err).toMatch(/1 problem\(s\) left that --repair cannot fix/);
    const moved = await quarantined(dataDir);
    expect(moved.length).toBe(7);
    expect(moved.some((f) => f.endsWith(hex(a.layers[0]!.digest)))).toBe(true);
    expect(existsSync(join(repoDir('team/a'), '_layers', 'sha256', hex(a.config.digest)))).toBe(true);

    const after = await admin(['--data-dir', dataDir, 'fsck', '--json']);
    const report = JSON.parse(after.out) as { problems: Array<{ kind: string }> };
    expect(report.problems.map((p) => p.kind)).toEqual(['missing-blob']);

    // The server agrees: the re-linked config is served, the quarantined layer is unknown.
    const reg = await startRegistry({}, { dataDir, keepData: true });
    try {
      expect((await fetch(`${reg.url}/v2/team/a/blobs/${a.config.digest}`)).status).toBe(200);
      expect((await fetch(`${reg.url}/v2/team/a/blobs/${a.layers[0]!.digest}`)).status).toBe(404);
      expect((await fetch(`${reg.url}/v2/team/b/manifests/v1`)).status).toBe(404);
    } finally {
      await reg.close();
    }
  });
});
